#include "transport/workloads/kv/gpu/kv_pack.h"

#include <string>

#include "transport/gpu/paged_copy.h"

namespace ferry::kv::gpu {
namespace {

VoidResult check(const PagedKvLayout& layout, uint32_t layer, HeadSlice heads) {
  if (auto valid = layout.validate(); !valid.ok()) return valid;
  if (layer >= layout.layers) {
    return make_error(ErrorCode::kOutOfRange, "KV pack: layer " + std::to_string(layer) + " of a " +
                                                  std::to_string(layout.layers) + "-layer pool");
  }
  if (heads.count == 0 || heads.first + heads.count > layout.heads_per_rank()) {
    return make_error(ErrorCode::kOutOfRange, "KV pack: heads [" + std::to_string(heads.first) + ", " +
                                                  std::to_string(heads.first + heads.count) + ") of rows with " +
                                                  std::to_string(layout.heads_per_rank()) + " heads");
  }
  return {};
}

uint64_t pool_offset(const PagedKvLayout& layout, uint32_t layer, KvPart part, HeadSlice heads) {
  return layout.offset(layer, part, 0, 0, heads.first);
}

// Both parts (K and V) of a layer in one copy: pool side indexed by the block table,
// staging side contiguous, K's blocks then V's. A slice of every head is one contiguous
// block: one row per page.
ferry::gpu::PagedCopy layer_copy(const PagedKvLayout& layout, uint32_t layer, const uint32_t* table, uint32_t blocks,
                                 HeadSlice heads) {
  ferry::gpu::PagedCopy c;
  c.pages = blocks;
  c.parts = kKvParts;
  c.src_part_stride = pool_offset(layout, layer, KvPart::kValue, heads) - pool_offset(layout, layer, KvPart::kKey, heads);
  c.dst_part_stride = packed_bytes(layout, blocks, heads) / kKvParts;
  c.src_pages = table;  // pool side; swapped for unpack
  c.src_page_stride = layout.block_bytes();
  const uint64_t slice_row = uint64_t{heads.count} * layout.head_bytes();
  c.dst_page_stride = layout.block_tokens * slice_row;
  if (heads.count == layout.heads_per_rank()) {
    c.rows = 1;
    c.row_bytes = layout.block_bytes();
  } else {
    c.rows = layout.block_tokens;
    c.row_bytes = slice_row;
    c.src_row_stride = layout.token_bytes();
    c.dst_row_stride = slice_row;
  }
  return c;
}

}  // namespace

VoidResult launch_pack(const PagedKvLayout& layout, const void* pool, uint32_t layer, const uint32_t* block_table,
                       uint32_t blocks, HeadSlice heads, void* staging, void* stream) {
  if (auto ok = check(layout, layer, heads); !ok.ok()) return ok;
  ferry::gpu::PagedCopy c = layer_copy(layout, layer, block_table, blocks, heads);
  c.src = static_cast<const char*>(pool) + pool_offset(layout, layer, KvPart::kKey, heads);
  c.dst = staging;
  return ferry::gpu::launch_paged_copy(c, stream);
}

VoidResult launch_unpack(const PagedKvLayout& layout, void* pool, uint32_t layer, const uint32_t* block_table,
                         uint32_t blocks, HeadSlice heads, const void* staging, void* stream) {
  if (auto ok = check(layout, layer, heads); !ok.ok()) return ok;
  const ferry::gpu::PagedCopy pack = layer_copy(layout, layer, block_table, blocks, heads);
  // The same copy, the other way round.
  ferry::gpu::PagedCopy c = pack;
  c.dst_pages = pack.src_pages;
  c.src_pages = nullptr;
  c.dst_page_stride = pack.src_page_stride;
  c.src_page_stride = pack.dst_page_stride;
  c.dst_row_stride = pack.src_row_stride;
  c.src_row_stride = pack.dst_row_stride;
  c.dst_part_stride = pack.src_part_stride;
  c.src_part_stride = pack.dst_part_stride;
  c.dst = static_cast<char*>(pool) + pool_offset(layout, layer, KvPart::kKey, heads);
  c.src = staging;
  return ferry::gpu::launch_paged_copy(c, stream);
}

}  // namespace ferry::kv::gpu
