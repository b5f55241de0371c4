// The slot header fuzzer's entry point over fixed inputs: headers that fit, every
// truncation of them, corrupted bytes, and links at and past their limits. It aborts on a
// broken invariant; tools/fuzz.sh explores further with libFuzzer.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "transport/workloads/pp/stage_link.h"
#include "transport/testing/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ferry::pp {
namespace {

std::vector<uint8_t> input(uint8_t credits, uint64_t max_message_bytes, uint64_t sequence, SlotHeader header) {
  std::vector<uint8_t> out(18 + sizeof header);
  out[0] = credits;
  out[1] = 3;
  std::memcpy(out.data() + 2, &max_message_bytes, 8);
  std::memcpy(out.data() + 10, &sequence, 8);
  std::memcpy(out.data() + 18, &header, sizeof header);
  return out;
}

TEST(SlotHeaderFuzzer, FixedInputsKeepEveryInvariant) {
  const std::vector<std::vector<uint8_t>> inputs = {
      input(4, 1 << 20, 9, {9, 1 << 20}),
      input(StageLink::kMaxCredits, StageLink::kMaxMessageBytes, ~0ull, {~0ull, StageLink::kMaxMessageBytes}),
      input(1, 1, 0, {0, 0}),
      input(4, ~0ull, 5, {5, ~0ull}),  // a link too large to lay out: refused
  };
  for (const std::vector<uint8_t>& in : inputs) {
    expect_every_truncation_and_corruption_survives(LLVMFuzzerTestOneInput, in, 0x99);
  }
}

}  // namespace
}  // namespace ferry::pp
