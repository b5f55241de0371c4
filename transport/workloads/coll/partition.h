// How a collective cuts its elements: into rounds that fit the scratch, and each round
// into one chunk per rank. Every rank computes the same cuts from the same arguments.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry::coll {

// Elements [first, first + count).
struct Range {
  size_t first = 0;
  size_t count = 0;
};

// Part `index` of `count` elements cut into `parts` nearly equal parts: the first
// count % parts parts get one element more. Parts may be empty when count < parts.
inline Range part(size_t count, size_t parts, size_t index) {
  const size_t base = count / parts;
  const size_t extra = count % parts;
  return Range{index * base + (index < extra ? index : extra), base + (index < extra ? 1 : 0)};
}

// Round `index` of `count` elements moved at most `per_round` at a time.
inline Range round_range(size_t count, size_t per_round, size_t index) {
  const size_t first = index * per_round;
  return Range{first, count - first < per_round ? count - first : per_round};
}

inline size_t round_count(size_t count, size_t per_round) {
  return count == 0 ? 0 : (count + per_round - 1) / per_round;
}

// (a - b) mod n for ring positions.
inline uint32_t ring_index(int64_t position, uint32_t n) {
  const int64_t m = position % static_cast<int64_t>(n);
  return static_cast<uint32_t>(m < 0 ? m + n : m);
}

}  // namespace ferry::coll
