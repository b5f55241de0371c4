// Little helpers to write and read fixed-size fields of the engine's own small
// messages (the handshake, control message headers), in host byte order.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ferry::engine_internal {

template <typename T>
void put(std::vector<uint8_t>& out, T value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

// Reads T at *offset if it fits; advances the offset.
template <typename T>
bool take(std::span<const uint8_t> in, size_t* offset, T* value) {
  if (in.size() < *offset || in.size() - *offset < sizeof(T)) return false;
  std::memcpy(value, in.data() + *offset, sizeof(T));
  *offset += sizeof(T);
  return true;
}

}  // namespace ferry::engine_internal
