#include "transport/workloads/moe/fp8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ferry::moe {
namespace {

TEST(Fp8E4m3, EveryCodeRoundTrips) {
  for (int code = 0; code < 256; ++code) {
    const auto q = static_cast<uint8_t>(code);
    const float x = e4m3_to_float(q);
    if ((code & 0x7f) == 0x7f) {
      EXPECT_TRUE(std::isnan(x)) << code;
      continue;
    }
    // Negative zero comes back as zero of the same sign.
    EXPECT_EQ(float_to_e4m3(x), q) << "code " << code << " value " << x;
  }
}

TEST(Fp8E4m3, KnownValues) {
  EXPECT_EQ(e4m3_to_float(0x7e), 448.0f);
  EXPECT_EQ(e4m3_to_float(0x08), 0.015625f);        // smallest normal, 2^-6
  EXPECT_EQ(e4m3_to_float(0x01), 1.0f / 512.0f);    // smallest subnormal, 2^-9
  EXPECT_EQ(e4m3_to_float(0x38), 1.0f);
  EXPECT_EQ(e4m3_to_float(0xb8), -1.0f);
}

TEST(Fp8E4m3, RoundsToNearestTiesToEvenAndSaturates) {
  // Between 1.0 (0x38) and 1.125 (0x39): the midpoint goes to the even code.
  EXPECT_EQ(float_to_e4m3(1.0625f), 0x38);
  EXPECT_EQ(float_to_e4m3(1.0626f), 0x39);
  // Between 1.125 (0x39) and 1.25 (0x3a): the midpoint goes up, to the even code.
  EXPECT_EQ(float_to_e4m3(1.1875f), 0x3a);
  // Subnormals: 1.5 * 2^-9 is a tie between codes 1 and 2, and goes to 2.
  EXPECT_EQ(float_to_e4m3(1.5f / 512.0f), 0x02);
  EXPECT_EQ(float_to_e4m3(0.5f / 512.0f), 0x00);  // tie with zero: to zero
  // The largest subnormal rounds up into the smallest normal.
  EXPECT_EQ(float_to_e4m3(7.9f / 512.0f), 0x08);
  // Beyond 448 saturates, infinity too; NaN stays NaN.
  EXPECT_EQ(float_to_e4m3(460.0f), 0x7e);
  EXPECT_EQ(float_to_e4m3(1e9f), 0x7e);
  EXPECT_EQ(float_to_e4m3(-std::numeric_limits<float>::infinity()), 0xfe);
  EXPECT_EQ(float_to_e4m3(std::numeric_limits<float>::quiet_NaN()) & 0x7f, 0x7f);
}

TEST(Fp8E4m3, ScaledGroupsKeepTheirLargestValueExactly) {
  const float amax = 3.7f;
  const float scale = fp8_scale(amax);
  EXPECT_EQ(float_to_e4m3(amax / scale), 0x7e);
  EXPECT_NEAR(e4m3_to_float(float_to_e4m3(amax / scale)) * scale, amax, 1e-6f);
  EXPECT_EQ(fp8_scale(0), 1.0f);
}

}  // namespace
}  // namespace ferry::moe
