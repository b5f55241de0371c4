// FNV-1a over the raw bytes of values: the trace hash that emu and sim keep of every
// completion and fault, so that a seed's run can be compared bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry {

inline constexpr uint64_t kTraceHashSeed = 14695981039346656037ull;  // FNV-1a offset basis

inline void hash_bytes(uint64_t& hash, const void* data, size_t n) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    hash ^= bytes[i];
    hash *= 1099511628211ull;  // FNV-1a prime
  }
}

template <typename T>
void hash_value(uint64_t& hash, T value) {
  hash_bytes(hash, &value, sizeof value);
}

}  // namespace ferry
