// bfloat16 stored as uint16_t: the upper half of an IEEE float.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace ferry::moe {

inline float bf16_to_float(uint16_t value) { return std::bit_cast<float>(uint32_t{value} << 16); }

// Rounds to nearest, ties to even; a NaN stays a (quiet) NaN. Branch-free, so that
// loops over it vectorise.
inline uint16_t float_to_bf16(float f) {
  const uint32_t bits = std::bit_cast<uint32_t>(f);
  const uint32_t rounded = (bits + 0x7fff + ((bits >> 16) & 1)) >> 16;
  const uint32_t quiet_nan = (bits >> 16) | 0x40;
  return static_cast<uint16_t>((bits & 0x7fffffff) > 0x7f800000 ? quiet_nan : rounded);
}

// Element i of a row of bf16 values that may sit at any byte address.
inline uint16_t load_bf16(const uint8_t* row, uint64_t i) {
  uint16_t v;
  std::memcpy(&v, row + 2 * i, sizeof(v));
  return v;
}

}  // namespace ferry::moe
