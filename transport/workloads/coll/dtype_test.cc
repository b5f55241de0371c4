// The fp16 and bf16 conversions (round to nearest even, subnormals, infinities, NaN) and
// the fp32 reduction.
#include "transport/workloads/coll/dtype.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <vector>

#include "transport/workloads/coll/reduction.h"

namespace ferry::coll {
namespace {

TEST(Half, EveryValueRoundTrips) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float f = half_to_float(static_cast<uint16_t>(bits));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(half_to_float(float_to_half(f)))) << bits;
      continue;
    }
    EXPECT_EQ(float_to_half(f), bits) << bits;
  }
}

TEST(Half, KnownValues) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);          // the largest
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);          // rounds up to infinity
  EXPECT_EQ(float_to_half(1e9f), 0x7c00);
  EXPECT_EQ(float_to_half(-std::numeric_limits<float>::infinity()), 0xfc00);
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);   // the smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);   // a tie: to even (zero)
  EXPECT_EQ(float_to_half(std::ldexp(1.5f, -25)), 0x0001);   // above the tie
  EXPECT_EQ(float_to_half(std::ldexp(3.0f, -25)), 0x0002);   // a tie: to even (2)
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14)), 0x0400);   // the smallest normal
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
}

TEST(Half, RoundsToNearestEven) {
  // Between 1 and 1 + 2^-10 the tie 1 + 2^-11 goes to 1 (even); 1 + 3*2^-11 goes up.
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
}

TEST(BFloat16, EveryValueRoundTrips) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    const float f = bfloat16_to_float(static_cast<uint16_t>(bits));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(f)))) << bits;
      continue;
    }
    EXPECT_EQ(float_to_bfloat16(f), bits) << bits;
  }
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3f80);
  EXPECT_EQ(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie to even
  EXPECT_EQ(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_EQ(float_to_bfloat16(std::numeric_limits<float>::max()), 0x7f80);  // rounds to infinity
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload sits in the dropped bits stays a NaN (not infinity).
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(std::bit_cast<float>(0x7f800001u)))));
}

TEST(Names, RoundTrip) {
  for (DType d : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) EXPECT_EQ(dtype_from_string(to_string(d)), d);
  for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax}) EXPECT_EQ(reduce_op_from_string(to_string(op)), op);
  EXPECT_FALSE(dtype_from_string("double"));
}

TEST(Reduce, AccumulatesInFp32AndRoundsOnce) {
  // 2048 + 1 + 1 in fp16: adding 1 twice in fp16 would stay at 2048 (ties to even);
  // in fp32 the sum is 2050, which fp16 holds.
  std::vector<uint16_t> a = {float_to_half(2048)}, b = {float_to_half(1)}, c = {float_to_half(1)};
  const void* sources[] = {a.data(), b.data(), c.data()};
  uint16_t out = 0;
  reduce(&out, sources, 1, DType::kFloat16, ReduceOp::kSum);
  EXPECT_EQ(half_to_float(out), 2050.0f);
}

TEST(Reduce, MaxAndInPlaceOverManyBlocks) {
  const size_t n = 1500;  // several blocks of the accumulator
  std::vector<float> x(n), y(n);
  for (size_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i % 7);
    y[i] = static_cast<float>(i % 5);
  }
  const void* sources[] = {x.data(), y.data()};
  reduce(x.data(), sources, n, DType::kFloat32, ReduceOp::kMax);
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(x[i], std::max<float>(i % 7, i % 5)) << i;
}

}  // namespace
}  // namespace ferry::coll
