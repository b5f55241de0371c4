// For tests that need a GPU: without one they are skipped with the reason, and
// tools/test.sh counts them as skipped, never as passed.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "transport/gpu/runtime.h"

// In a TEST body or SetUp(): skips the test, saying why, when no GPU can be used.
#define FERRY_REQUIRE_GPU()                                                        \
  do {                                                                             \
    if (auto gpu_here = ::ferry::gpu::available(); !gpu_here.ok()) {               \
      GTEST_SKIP() << "needs a GPU: " << gpu_here.error().message;                 \
    }                                                                              \
  } while (0)

namespace ferry::gpu::testing {

// A GPU copy of host bytes (the test fails on an error).
inline DeviceBuffer upload(const void* data, size_t bytes) {
  auto buffer = DeviceBuffer::allocate(bytes);
  EXPECT_TRUE(buffer.ok()) << buffer.error().to_string();
  if (!buffer.ok()) return {};
  auto copied = copy(buffer->data(), data, bytes);
  EXPECT_TRUE(copied.ok()) << copied.error().to_string();
  return std::move(buffer).value();
}

template <typename T>
DeviceBuffer upload(const std::vector<T>& values) {
  return upload(values.data(), values.size() * sizeof(T));
}

// The bytes of GPU memory, after every launched kernel finished.
template <typename T = uint8_t>
std::vector<T> download(const void* gpu, size_t count) {
  std::vector<T> out(count);
  auto done = synchronize();
  EXPECT_TRUE(done.ok()) << done.error().to_string();
  auto copied = copy(out.data(), gpu, count * sizeof(T));
  EXPECT_TRUE(copied.ok()) << copied.error().to_string();
  return out;
}

// Deterministic test bytes: byte i of buffer `tag`.
inline uint8_t pattern(uint64_t tag, uint64_t i) {
  uint64_t x = (tag + 1) * 0x9e3779b97f4a7c15ull ^ (i * 0xbf58476d1ce4e5b9ull);
  x ^= x >> 31;
  return static_cast<uint8_t>(x ^ (x >> 17));
}

inline std::vector<uint8_t> pattern_bytes(uint64_t tag, size_t n) {
  std::vector<uint8_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = pattern(tag, i);
  return out;
}

}  // namespace ferry::gpu::testing
