// Saturating arithmetic for derived figures: a product of large dimensions stops at
// UINT64_MAX instead of wrapping round to a small, wrong number.
#pragma once

#include <cstdint>
#include <limits>

namespace ferry::scenarios {

inline uint64_t saturating_mul(uint64_t a, uint64_t b) {
  uint64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<uint64_t>::max() : product;
}

inline uint64_t saturating_add(uint64_t a, uint64_t b) {
  uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<uint64_t>::max() : sum;
}

template <typename... Rest>
uint64_t saturating_product(uint64_t first, Rest... rest) {
  uint64_t product = first;
  ((product = saturating_mul(product, static_cast<uint64_t>(rest))), ...);
  return product;
}

}  // namespace ferry::scenarios
