#include "transport/workloads/coll/dtype.h"

#include <bit>

namespace ferry::coll {

const char* to_string(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float";
    case DType::kFloat16: return "half";
    case DType::kBFloat16: return "bfloat16";
  }
  return "?";
}

std::optional<DType> dtype_from_string(std::string_view name) {
  for (DType d : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    if (name == to_string(d)) return d;
  }
  return std::nullopt;
}

// fp32: 1 sign, 8 exponent (bias 127), 23 mantissa bits.
// fp16: 1 sign, 5 exponent (bias 15), 10 mantissa bits.
uint16_t float_to_half(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  const uint16_t sign = static_cast<uint16_t>((f >> 16) & 0x8000);
  const uint32_t exponent = (f >> 23) & 0xff;
  uint32_t mantissa = f & 0x7fffff;
  if (exponent == 0xff) {  // infinity, or NaN kept quiet with its top payload bits
    return static_cast<uint16_t>(sign | 0x7c00 | (mantissa ? 0x200 | (mantissa >> 13) : 0));
  }
  const int half_exponent = static_cast<int>(exponent) - 127 + 15;
  if (half_exponent >= 31) return static_cast<uint16_t>(sign | 0x7c00);  // overflow: infinity
  if (half_exponent <= 0) {
    // Subnormal (or zero): shift the mantissa, with its implicit bit, into place.
    if (half_exponent < -10) return sign;  // below half the smallest subnormal
    mantissa |= 0x800000;
    const int shift = 14 - half_exponent;  // 24-bit significand to a 10-bit field
    const uint32_t rounded = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    const uint32_t up = rest > halfway || (rest == halfway && (rounded & 1));
    return static_cast<uint16_t>(sign | (rounded + up));  // may carry into the exponent: fine
  }
  const uint32_t rounded = (static_cast<uint32_t>(half_exponent) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fff;
  const uint32_t up = rest > 0x1000 || (rest == 0x1000 && (rounded & 1));
  return static_cast<uint16_t>(sign | (rounded + up));  // a carry may round up to infinity
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000 | (mantissa << 13));
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal: normalise it for fp32.
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400) == 0);
    return std::bit_cast<float>(sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mantissa & 0x3ff) << 13);
  }
  return std::bit_cast<float>(sign | (exponent + 127 - 15) << 23 | mantissa << 13);
}

// bf16 is the top half of fp32: round the dropped 16 bits to nearest, ties to even.
uint16_t float_to_bfloat16(float value) {
  const uint32_t f = std::bit_cast<uint32_t>(value);
  if ((f & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((f >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((f + 0x7fff + ((f >> 16) & 1)) >> 16);
}

float bfloat16_to_float(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

}  // namespace ferry::coll
