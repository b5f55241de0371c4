// KV pack and unpack on the GPU: a request's paged blocks of one layer, gathered by block
// table into one contiguous staging buffer (pack, on the prefill side) and scattered back
// into the pool's blocks (unpack, on the decode side), for the cases a transfer cannot be
// written block by block: many small blocks, or head re-sharding when prefill and decode
// run different tensor-parallel degrees (a decode rank takes only some heads of each
// token row, and places them at other heads of its own rows; kv/kv_route.h).
//
// Staging layout: [part K, V][block i of the table][token][the slice's heads][dim].
#pragma once

#include <cstdint>

#include "transport/result.h"
#include "transport/workloads/kv/paged_kv_layout.h"

namespace ferry::kv::gpu {

// The heads of each token row a pack takes (or an unpack fills): local heads
// [first, first + count) of the layout's rows.
struct HeadSlice {
  uint32_t first = 0;
  uint32_t count = 0;
};

// Every local head of the layout.
inline HeadSlice all_heads(const PagedKvLayout& layout) { return {0, layout.heads_per_rank()}; }

// Bytes of staging that `blocks` blocks of one layer take for a slice.
inline uint64_t packed_bytes(const PagedKvLayout& layout, uint32_t blocks, HeadSlice heads) {
  return uint64_t{kKvParts} * blocks * layout.block_tokens * heads.count * layout.head_bytes();
}

// pool and staging are GPU memory; block_table holds `blocks` block indices in GPU memory.
// Both launch on `stream` (a cudaStream_t, or null) and return without waiting.
VoidResult launch_pack(const PagedKvLayout& layout, const void* pool, uint32_t layer, const uint32_t* block_table,
                       uint32_t blocks, HeadSlice heads, void* staging, void* stream = nullptr);
VoidResult launch_unpack(const PagedKvLayout& layout, void* pool, uint32_t layer, const uint32_t* block_table,
                         uint32_t blocks, HeadSlice heads, const void* staging, void* stream = nullptr);

}  // namespace ferry::kv::gpu
