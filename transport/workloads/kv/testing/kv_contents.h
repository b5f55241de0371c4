// KV contents in which every element names itself (which content, layer, part, token,
// head, dimension), over small models: what the KV tests and the swarm fill prefill
// pools with and check decode pools against. No test framework in it.
#pragma once

#include <cstdint>
#include <numeric>
#include <string>
#include <utility>

#include "transport/workloads/kv/kv_request.h"
#include "transport/workloads/kv/paged_kv_layout.h"

namespace ferry::testing {

// A model small enough for quick tests, with 4-byte elements for kv_element().
inline PagedKvLayout small_model(uint32_t tp, uint32_t num_blocks = 24) {
  return PagedKvLayout{.layers = 4, .block_tokens = 4, .kv_heads = 8, .head_dim = 8,
                       .dtype_bytes = 4, .num_blocks = num_blocks, .tp = tp};
}

// The value of one element: which content (request) it belongs to and where it is in the
// model, packed into 32 bits; never 0, so untouched memory never passes.
inline uint32_t kv_element(uint32_t content, uint32_t layer, uint32_t part, uint32_t token, uint32_t head,
                           uint32_t dim) {
  return content << 28 | layer << 23 | part << 22 | token << 12 | head << 7 | dim;
}

// An element's value in words.
inline std::string describe_kv_element(uint32_t v) {
  return "(content " + std::to_string(v >> 28) + ", layer " + std::to_string(v >> 23 & 31) + ", part " +
         std::to_string(v >> 22 & 1) + ", token " + std::to_string(v >> 12 & 1023) + ", head " +
         std::to_string(v >> 7 & 31) + ", dim " + std::to_string(v & 127) + ")";
}

// Block indices 0 .. num_blocks-1 in a seeded order: tests take disjoint slices of it.
inline KvBlockTable shuffled_blocks(const PagedKvLayout& layout, uint64_t seed) {
  KvBlockTable blocks(layout.num_blocks);
  std::iota(blocks.begin(), blocks.end(), 0u);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = blocks.size(); i > 1; --i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::swap(blocks[i - 1], blocks[x % i]);
  }
  return blocks;
}

inline KvBlockTable slice(const KvBlockTable& blocks, size_t first, size_t count) {
  return KvBlockTable(blocks.begin() + static_cast<long>(first), blocks.begin() + static_cast<long>(first + count));
}

// Calls fn(pool offset, element value without its content) for every element of the
// table's blocks held by `rank` of a side with layout l.
template <typename Fn>
void for_each_kv_element(const PagedKvLayout& l, const KvBlockTable& table, uint32_t rank, Fn fn) {
  const HeadRange heads = l.heads_of(rank);
  for (uint32_t layer = 0; layer < l.layers; ++layer) {
    for (uint32_t part = 0; part < kKvParts; ++part) {
      for (uint32_t i = 0; i < table.size(); ++i) {
        for (uint32_t t = 0; t < l.block_tokens; ++t) {
          for (uint32_t h = 0; h < heads.count; ++h) {
            for (uint32_t dim = 0; dim < l.head_dim; ++dim) {
              fn(l.offset(layer, static_cast<KvPart>(part), table[i], t, h, dim),
                 kv_element(0, layer, part, i * l.block_tokens + t, heads.first + h, dim));
            }
          }
        }
      }
    }
  }
}

}  // namespace ferry::testing
