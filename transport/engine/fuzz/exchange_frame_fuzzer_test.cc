// The exchange frame fuzzer's entry point over fixed inputs: whole frames back to back,
// every truncation of them, and bytes that are not frames. It aborts on a broken
// invariant; tools/fuzz.sh explores further with libFuzzer.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "transport/engine/tcp_exchange.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ferry {
namespace {

TEST(ExchangeFrameFuzzer, FixedInputsKeepEveryInvariant) {
  std::vector<uint8_t> stream;
  for (const auto& [from, payload] : {std::pair<std::string, std::vector<uint8_t>>{"rank0", {1, 2, 3}},
                                      {"r", {}}, {std::string(255, 'x'), std::vector<uint8_t>(5000, 7)}}) {
    const std::vector<uint8_t> frame = encode_frame(from, payload);
    stream.insert(stream.end(), frame.begin(), frame.end());
  }
  for (size_t n = 0; n <= stream.size(); ++n) EXPECT_EQ(LLVMFuzzerTestOneInput(stream.data(), n), 0);
  std::vector<uint8_t> garbage = stream;
  for (size_t i = 0; i < garbage.size(); i += 97) garbage[i] ^= 0x5a;
  EXPECT_EQ(LLVMFuzzerTestOneInput(garbage.data(), garbage.size()), 0);
}

}  // namespace
}  // namespace ferry
