#include "transport/workloads/kv/kv_route_pages.h"

namespace ferry {

KvRoutePages::KvRoutePages(const KvRoute& route, const PagedKvLayout& prefill, const PagedKvLayout& decode,
                           const KvBlockTable& prefill_blocks, const KvBlockTable& decode_blocks)
    : src_layer_bytes_(prefill.layer_bytes()),
      dst_layer_bytes_(decode.layer_bytes()),
      src_head_offset_(route.prefill_head * prefill.head_bytes()),
      dst_head_offset_(route.decode_head * decode.head_bytes()) {
  const bool whole_rows = route.heads.count == prefill.heads_per_rank() &&
                          route.heads.count == decode.heads_per_rank();
  // Page index i addresses base + i * stride: a block index scaled by the block, or a
  // token row index scaled by the row.
  const uint32_t pages_per_block = whole_rows ? 1 : prefill.block_tokens;
  page_bytes_ = whole_rows ? prefill.block_bytes() : route.heads.count * prefill.head_bytes();
  src_stride_ = whole_rows ? prefill.block_bytes() : prefill.token_bytes();
  dst_stride_ = whole_rows ? decode.block_bytes() : decode.token_bytes();

  src_pages_.reserve(kKvParts * prefill_blocks.size() * pages_per_block);
  dst_pages_.reserve(src_pages_.capacity());
  for (uint32_t part = 0; part < kKvParts; ++part) {
    for (size_t i = 0; i < prefill_blocks.size(); ++i) {
      const uint32_t src_block = part * prefill.num_blocks + prefill_blocks[i];
      const uint32_t dst_block = part * decode.num_blocks + decode_blocks[i];
      for (uint32_t page = 0; page < pages_per_block; ++page) {
        src_pages_.push_back(src_block * pages_per_block + page);
        dst_pages_.push_back(dst_block * pages_per_block + page);
      }
    }
  }
}

PagedTransfer KvRoutePages::layer(uint32_t layer, const uint8_t* prefill_pool, RemoteRegion decode_region,
                                  uint64_t decode_pool_offset) const {
  PagedTransfer t;
  t.src_pages = src_pages_;
  t.dst_pages = dst_pages_;
  t.page_bytes = page_bytes_;
  t.src_base = prefill_pool + layer * src_layer_bytes_ + src_head_offset_;
  t.src_stride = src_stride_;
  t.dst = decode_region;
  t.dst_offset = decode_pool_offset + layer * dst_layer_bytes_ + dst_head_offset_;
  t.dst_stride = dst_stride_;
  return t;
}

}  // namespace ferry
