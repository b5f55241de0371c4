// KvRoutePages: one route's share of one request, as pages for Engine::write_paged.
//
// A page is the largest piece that is contiguous on both sides:
//  - when the route carries whole token rows on both sides (every head of the prefill
//    rank and of the decode rank), a page is a whole block;
//  - otherwise a page is the route's heads within one token row, and the pages of a block
//    are block_tokens rows, a row stride apart on each side.
// The page lists name K and V of every block of the request, through each side's own
// block table. They are the same for every layer: a layer only moves the base offsets.
// Pages that follow each other on both sides are merged into one work request by the
// engine (PagedWritePlan), so a whole-row route with consecutive blocks moves in long runs.
#pragma once

#include <cstdint>
#include <vector>

#include "transport/engine/engine.h"
#include "transport/workloads/kv/kv_route.h"
#include "transport/workloads/kv/paged_kv_layout.h"

namespace ferry {

class KvRoutePages {
 public:
  // The tables must be valid for their layouts and of equal length (checked by the caller).
  KvRoutePages(const KvRoute& route, const PagedKvLayout& prefill, const PagedKvLayout& decode,
               const KvBlockTable& prefill_blocks, const KvBlockTable& decode_blocks);

  // The write of `layer`, from the prefill rank's pool to the decode rank's pool, which
  // starts `decode_pool_offset` bytes into the imported region. The returned transfer
  // points into this object.
  PagedTransfer layer(uint32_t layer, const uint8_t* prefill_pool, RemoteRegion decode_region,
                      uint64_t decode_pool_offset) const;

  uint64_t page_bytes() const { return page_bytes_; }
  size_t pages() const { return src_pages_.size(); }
  uint64_t bytes_per_layer() const { return page_bytes_ * src_pages_.size(); }

 private:
  uint64_t page_bytes_ = 0;
  uint64_t src_stride_ = 0;
  uint64_t dst_stride_ = 0;
  uint64_t src_layer_bytes_ = 0;
  uint64_t dst_layer_bytes_ = 0;
  uint64_t src_head_offset_ = 0;  // the route's first head within a prefill row
  uint64_t dst_head_offset_ = 0;  // ... within a decode row
  std::vector<uint32_t> src_pages_;
  std::vector<uint32_t> dst_pages_;
};

}  // namespace ferry
