// The MoE wire fuzzer's entry point over fixed inputs: a dispatch and a combine message,
// every truncation of them and corrupted bytes. It aborts on a broken invariant;
// tools/fuzz.sh explores further with libFuzzer.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "transport/workloads/moe/fuzz/moe_wire_fuzzer.h"
#include "transport/workloads/moe/wire_format.h"
#include "transport/testing/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ferry::moe {
namespace {

// Two tokens for three local experts (top 4, 16 tokens at most, 10-byte vectors, 8-byte
// output rows): token 0 to experts 0 and 2, token 1 to expert 2, with their weights; the
// reply (one row per token) at 128.
std::vector<uint8_t> dispatch_input() {
  std::vector<uint8_t> input = {0, 2, 3, 15, 9, 7, 128 + 64 + 2 * 8, 0};
  DispatchHeader h;
  h.sequence = fuzz::kSequence;
  h.source = fuzz::kSource;
  h.tokens = 2;
  h.rows = 3;
  h.local_experts = 3;
  h.combine_offset = 128;
  std::vector<uint8_t> message(dispatch_message_bytes(3, 2, 3, 10), 0);
  DispatchWriter w(message.data(), h, 10);
  w.count(0, 1);
  w.count(1, 0);
  w.count(2, 2);
  w.token_index(0, 7);
  w.token_index(1, 9);
  w.route(0, RowRoute{0, 0, 1});
  w.route(1, RowRoute{0, 2, 0});
  w.route(2, RowRoute{1, 2, 3});
  w.weight(0, 0.5f);
  w.weight(1, 0.25f);
  w.weight(2, 1.0f);
  for (uint32_t t = 0; t < 2; ++t) std::fill(w.vector(t), w.vector(t) + 10, uint8_t(0xa0 + t));
  input.insert(input.end(), message.begin(), message.end());
  return input;
}

std::vector<uint8_t> combine_input() {
  std::vector<uint8_t> input = {1, 0, 0, 0, 0, 0, 3, 0};
  std::vector<uint8_t> message(combine_message_bytes(3, 8), 0x5e);
  write_combine_header(message.data(), CombineHeader{kCombineMagic, fuzz::kSequence, fuzz::kSource, 3});
  input.insert(input.end(), message.begin(), message.end());
  return input;
}

TEST(MoeWireFuzzer, FixedInputsKeepEveryInvariant) {
  for (const std::vector<uint8_t>& input : {dispatch_input(), combine_input()}) {
    expect_every_truncation_and_corruption_survives(LLVMFuzzerTestOneInput, input, 0xc3);
  }
}

TEST(MoeWireFuzzer, TheSeedsAreValidMessages) {
  const std::vector<uint8_t> input = dispatch_input();
  DispatchExpectation expect{fuzz::kSequence, fuzz::kSource, 3, 4, 16, 10, input.size() - fuzz::kPrefixBytes,
                             128 + 64 + 2 * 8, 8};
  auto view = DispatchView::parse(input.data() + fuzz::kPrefixBytes, expect);
  ASSERT_TRUE(view.ok()) << view.error().to_string();
  EXPECT_EQ(view->bytes(), input.size() - fuzz::kPrefixBytes);
  EXPECT_TRUE(parse_combine(combine_input().data() + fuzz::kPrefixBytes, fuzz::kSequence, fuzz::kSource, 3).ok());
}

}  // namespace
}  // namespace ferry::moe
