// The region descriptor fuzzer's entry point over fixed inputs: host and GPU
// descriptors, every truncation of them, and corrupted bytes. It aborts on a broken
// invariant; tools/fuzz.sh explores further with libFuzzer.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "transport/engine/region_descriptor.h"
#include "transport/testing/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ferry {
namespace {

TEST(RegionDescriptorFuzzer, FixedInputsKeepEveryInvariant) {
  const RegionDescriptor host{0x1000, 4096, {7}, MemoryKind::kHost, -1};
  const RegionDescriptor gpu{~0ull - 64, 64, std::vector<uint32_t>(64, 3), MemoryKind::kDevice, 2};
  const RegionDescriptor partial{0x1000, 4096, {0, 9}, MemoryKind::kHost, -1, 0b01};  // rail 0 absent
  for (const RegionDescriptor& d : {host, gpu, partial}) {
    const std::vector<uint8_t> bytes = d.serialize();
    ASSERT_TRUE(RegionDescriptor::parse(bytes).ok());
    expect_every_truncation_and_corruption_survives(LLVMFuzzerTestOneInput, bytes, 0x81);
  }
}

}  // namespace
}  // namespace ferry
