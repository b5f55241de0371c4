// The checksum is XXH64: the reference values, whatever the pieces it is fed in.
#include "transport/workloads/weights/checksum.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace ferry::weights {
namespace {

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::vector<uint8_t> sample(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 131 + 7);
  return v;
}

// Values of the reference implementation (libxxhash 0.8.1, XXH64 with seed 0).
TEST(Checksum, MatchesTheReferenceXxh64) {
  EXPECT_EQ(Checksum::of({}), 0xef46db3751d8e999ull);
  EXPECT_EQ(Checksum::of(bytes_of("a")), 0xd24ec4f1a98c6e5bull);
  EXPECT_EQ(Checksum::of(bytes_of("abc")), 0x44bc2cf5ad770999ull);
  EXPECT_EQ(Checksum::of(bytes_of("The quick brown fox jumps over the lazy dog")), 0x0b242d361fda71bcull);
  EXPECT_EQ(Checksum::of(sample(1000)), 0x0bf0bdbcc82eb373ull);
}

TEST(Checksum, PiecesOfAnySizeGiveTheHashOfTheWhole) {
  const std::vector<uint8_t> data = sample(1000);
  for (size_t piece : {1, 3, 7, 8, 31, 32, 33, 100, 999}) {
    Checksum c;
    for (size_t at = 0; at < data.size(); at += piece) {
      c.update({data.data() + at, std::min(piece, data.size() - at)});
    }
    EXPECT_EQ(c.value(), Checksum::of(data)) << "pieces of " << piece;
  }
}

TEST(Checksum, ValueCanBeReadMidway) {
  const std::vector<uint8_t> data = sample(100);
  Checksum c;
  c.update({data.data(), 40});
  EXPECT_EQ(c.value(), Checksum::of({data.data(), 40}));
  c.update({data.data() + 40, 60});
  EXPECT_EQ(c.value(), Checksum::of(data));
}

TEST(Checksum, OneFlippedBitChangesIt) {
  std::vector<uint8_t> data = sample(4096);
  const uint64_t before = Checksum::of(data);
  data[2049] ^= 0x10;
  EXPECT_NE(Checksum::of(data), before);
}

}  // namespace
}  // namespace ferry::weights
