// Combine's arithmetic: the weighted sum in slot order, and the two-step reduction
// (per expert rank, then over the ranks) that ExpertParallel and the reference share.
#include "transport/workloads/moe/weighted_sum.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "transport/workloads/moe/bf16.h"

namespace ferry::moe {
namespace {

const uint8_t* row(const uint16_t& value) { return reinterpret_cast<const uint8_t*>(&value); }

float reduced(const std::vector<float>& values, const std::vector<float>& weights,
              const std::vector<uint32_t>& ranks) {
  std::vector<uint16_t> bits;
  for (float v : values) bits.push_back(float_to_bf16(v));
  std::vector<const uint8_t*> rows;
  for (const uint16_t& b : bits) rows.push_back(row(b));
  uint16_t out = 0xffff;
  reduced_weighted_sum(rows, weights, ranks, std::span(&out, 1));
  return bf16_to_float(out);
}

TEST(WeightedSum, SumsInFp32InSlotOrderAndRoundsOnce) {
  const uint16_t one = float_to_bf16(1.0f), small = float_to_bf16(0x1p-8f);
  const uint8_t* rows[3] = {row(small), row(one), row(small)};
  const float weights[3] = {1, 1, 1};
  float accumulator = 0;
  uint16_t out = 0;
  weighted_sum(rows, weights, std::span(&accumulator, 1), std::span(&out, 1));
  EXPECT_EQ(bf16_to_float(out), 1.0f + 0x1p-7f);  // 1 + 2^-8 + 2^-8, one rounding
}

// 1 + 2^-8 is a tie between two bf16 values (steps of 2^-7 there) and rounds to 1.
TEST(WeightedSum, EachRanksPartialSumIsRoundedBeforeTheRanksAreAdded) {
  const std::vector<float> values = {0x1p-8f, 1.0f, 0x1p-8f}, weights = {1, 1, 1};
  // All on rank 2: one partial sum, one rounding, as a single weighted sum.
  EXPECT_EQ(reduced(values, weights, {2, 2, 2}), 1.0f + 0x1p-7f);
  // Slot 0 on rank 0, slots 1 and 2 on rank 1: bf16(1 + 2^-8) = 1, then bf16(2^-8 + 1) = 1.
  EXPECT_EQ(reduced(values, weights, {0, 1, 1}), 1.0f);
  // Ranks are added in ascending order, whatever the slots' order: the same here.
  EXPECT_EQ(reduced(values, weights, {1, 0, 0}), 1.0f);
}

TEST(WeightedSum, SlotsWithoutAnExpertAndTokensWithNoneCombineToPlusZero) {
  const uint16_t x = float_to_bf16(-3.0f);
  const uint8_t* rows[2] = {nullptr, row(x)};
  const float weights[2] = {5.0f, 0.5f};
  const uint32_t ranks[2] = {0, 1};
  uint16_t out = 0;
  reduced_weighted_sum(rows, weights, ranks, std::span(&out, 1));
  EXPECT_EQ(bf16_to_float(out), -1.5f);
  const uint8_t* none[2] = {nullptr, nullptr};
  reduced_weighted_sum(none, weights, ranks, std::span(&out, 1));
  EXPECT_EQ(out, 0) << "+0, not -0 or garbage";
}

}  // namespace
}  // namespace ferry::moe
