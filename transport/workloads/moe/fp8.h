// FP8 E4M3 (the OCP "e4m3fn" format: bias 7, 3 mantissa bits, no infinities, largest
// finite 448, NaN 0x7f/0xff) and the per-128-element scaling that low-latency expert
// parallelism dispatches with: each group of 128 consecutive elements of a row has one
// fp32 scale, amax / 448, and its elements travel as e4m3(x / scale).
//
// Written out bit by bit, rounding to nearest with ties to even and saturating to ±448,
// so that the CPU and the GPU kernels (moe/gpu/) produce the same bytes.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>

namespace ferry::moe {

constexpr uint32_t kFp8GroupElements = 128;
constexpr float kFp8Max = 448.0f;

inline uint8_t float_to_e4m3(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint8_t sign = static_cast<uint8_t>((bits >> 24) & 0x80);
  if ((bits & 0x7fffffff) > 0x7f800000) return sign | 0x7f;  // NaN
  const float a = std::fabs(f);
  if (a >= kFp8Max) return sign | 0x7e;  // saturate (448 is 0x7e)
  if (a < 0.015625f) {                   // below 2^-6: subnormal, steps of 2^-9
    const float scaled = a * 512.0f;      // exact: a power of two
    uint32_t q = static_cast<uint32_t>(scaled);
    const float rest = scaled - static_cast<float>(q);
    if (rest > 0.5f || (rest == 0.5f && (q & 1))) ++q;  // q == 8 is the smallest normal
    return sign | static_cast<uint8_t>(q);
  }
  int exponent = static_cast<int>((bits >> 23) & 0xff) - 127;  // -6 .. 8
  uint32_t mantissa = (bits & 0x7fffff) >> 20;
  const uint32_t rest = bits & 0xfffff;
  if (rest > 0x80000 || (rest == 0x80000 && (mantissa & 1))) ++mantissa;
  if (mantissa == 8) {
    mantissa = 0;
    ++exponent;
  }
  if (exponent > 8 || (exponent == 8 && mantissa == 7)) return sign | 0x7e;
  return sign | static_cast<uint8_t>(((exponent + 7) << 3) | mantissa);
}

inline float e4m3_to_float(uint8_t q) {
  const float sign = (q & 0x80) ? -1.0f : 1.0f;
  const uint32_t exponent = (q >> 3) & 0xf;
  const uint32_t mantissa = q & 0x7;
  if (exponent == 0xf && mantissa == 0x7) return std::bit_cast<float>(0x7fc00000u);
  if (exponent == 0) return sign * static_cast<float>(mantissa) * (1.0f / 512.0f);
  return sign * std::ldexp(1.0f + static_cast<float>(mantissa) / 8.0f, static_cast<int>(exponent) - 7);
}

// The scale of a group whose largest magnitude is `amax` (1 for an all-zero group, so
// that zeros stay zeros).
inline float fp8_scale(float amax) { return amax > 0 ? amax / kFp8Max : 1.0f; }

// A token as fp8 dispatch moves it (MoeConfig{.element_bytes = 1, .scale_group =
// kFp8GroupElements}): `hidden` e4m3 bytes, then hidden / 128 fp32 scales.
inline uint64_t fp8_row_bytes(uint32_t hidden) {
  return hidden + uint64_t{hidden / kFp8GroupElements} * sizeof(float);
}

// bf16 elements -> one fp8 row (hidden a multiple of 128).
inline void quantize_row_fp8(const uint16_t* bf16, uint32_t hidden, uint8_t* row) {
  auto value = [&](uint32_t i) { return std::bit_cast<float>(uint32_t{bf16[i]} << 16); };
  for (uint32_t g = 0; g < hidden / kFp8GroupElements; ++g) {
    float amax = 0;
    for (uint32_t i = g * kFp8GroupElements; i < (g + 1) * kFp8GroupElements; ++i) amax = std::fmax(amax, std::fabs(value(i)));
    const float scale = fp8_scale(amax);
    for (uint32_t i = g * kFp8GroupElements; i < (g + 1) * kFp8GroupElements; ++i) row[i] = float_to_e4m3(value(i) / scale);
    const uint32_t scale_bits = std::bit_cast<uint32_t>(scale);
    for (int b = 0; b < 4; ++b) row[hidden + g * 4 + b] = static_cast<uint8_t>(scale_bits >> (8 * b));
  }
}

// One fp8 row -> fp32 values (element × its group's scale).
inline float fp8_row_value(const uint8_t* row, uint32_t hidden, uint32_t i) {
  const uint32_t g = i / kFp8GroupElements;
  uint32_t scale_bits = 0;
  for (int b = 0; b < 4; ++b) scale_bits |= uint32_t{row[hidden + g * 4 + b]} << (8 * b);
  return e4m3_to_float(row[i]) * std::bit_cast<float>(scale_bits);
}

}  // namespace ferry::moe
