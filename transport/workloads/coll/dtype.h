// Element types of the collectives and their conversions to and from fp32.
//
// Reductions run in fp32 whatever the element type and round back once, so fp16 and
// bf16 need exact conversions: round to nearest, ties to even, with infinities,
// subnormals and NaNs kept. They are written out here rather than taken from a
// compiler extension so that every toolchain rounds the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace ferry::coll {

enum class DType : uint8_t { kFloat32, kFloat16, kBFloat16 };

constexpr size_t element_bytes(DType dtype) { return dtype == DType::kFloat32 ? 4 : 2; }

// The names nccl-tests prints: "float", "half", "bfloat16".
const char* to_string(DType dtype);
std::optional<DType> dtype_from_string(std::string_view name);

uint16_t float_to_half(float value);
float half_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float value);
float bfloat16_to_float(uint16_t bits);

// Element `index` of a buffer of `dtype`, as fp32.
inline float load_as_float(const void* buffer, size_t index, DType dtype) {
  const auto* bytes = static_cast<const uint8_t*>(buffer) + index * element_bytes(dtype);
  if (dtype == DType::kFloat32) {
    float value;
    std::memcpy(&value, bytes, sizeof value);
    return value;
  }
  uint16_t bits;
  std::memcpy(&bits, bytes, sizeof bits);
  return dtype == DType::kFloat16 ? half_to_float(bits) : bfloat16_to_float(bits);
}

// Stores `value` rounded to `dtype` as element `index`.
inline void store_from_float(void* buffer, size_t index, DType dtype, float value) {
  auto* bytes = static_cast<uint8_t*>(buffer) + index * element_bytes(dtype);
  if (dtype == DType::kFloat32) {
    std::memcpy(bytes, &value, sizeof value);
    return;
  }
  const uint16_t bits = dtype == DType::kFloat16 ? float_to_half(value) : float_to_bfloat16(value);
  std::memcpy(bytes, &bits, sizeof bits);
}

}  // namespace ferry::coll
