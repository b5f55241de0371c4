// The region descriptor fuzzer's entry point over fixed inputs: host and GPU
// descriptors, every truncation of them, and corrupted bytes. It aborts on a broken
// invariant; tools/fuzz.sh explores further with libFuzzer.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "transport/engine/region_descriptor.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ferry {
namespace {

TEST(RegionDescriptorFuzzer, FixedInputsKeepEveryInvariant) {
  const RegionDescriptor host{0x1000, 4096, {7}, MemoryKind::kHost, -1};
  const RegionDescriptor gpu{~0ull - 64, 64, std::vector<uint32_t>(64, 3), MemoryKind::kDevice, 2};
  for (const RegionDescriptor& d : {host, gpu}) {
    const std::vector<uint8_t> bytes = d.serialize();
    ASSERT_TRUE(RegionDescriptor::parse(bytes).ok());
    for (size_t n = 0; n <= bytes.size(); ++n) EXPECT_EQ(LLVMFuzzerTestOneInput(bytes.data(), n), 0);
    for (size_t i = 0; i < bytes.size(); ++i) {
      std::vector<uint8_t> corrupt = bytes;
      corrupt[i] ^= 0x81;
      EXPECT_EQ(LLVMFuzzerTestOneInput(corrupt.data(), corrupt.size()), 0);
    }
  }
}

}  // namespace
}  // namespace ferry
