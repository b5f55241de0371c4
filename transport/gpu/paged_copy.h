// PagedCopy: many same-shaped copies in one kernel launch — the gather and scatter that
// KV pages (block tables), MoE token rows (permute, unpermute) and head re-sharding need
// when a transfer cannot be written page by page.
//
// Page i copies `rows` rows of `row_bytes` bytes:
//   from src + src_page(i) * src_page_stride + r * src_row_stride
//   to   dst + dst_page(i) * dst_page_stride + r * dst_row_stride,   r in [0, rows)
// where src_page(i) = src_pages[i] (or i when src_pages is null), likewise for dst. The
// page index arrays live in GPU memory. Offsets inside a page (a head range inside a
// token row) are folded into src/dst.
#pragma once

#include <cstdint>

#include "transport/result.h"

namespace ferry::gpu {

struct PagedCopy {
  void* dst = nullptr;
  const void* src = nullptr;
  const uint32_t* dst_pages = nullptr;  // GPU memory, `pages` entries, or null: i
  const uint32_t* src_pages = nullptr;
  uint32_t pages = 0;
  uint64_t dst_page_stride = 0;
  uint64_t src_page_stride = 0;
  uint32_t rows = 1;
  uint64_t row_bytes = 0;
  uint64_t dst_row_stride = 0;
  uint64_t src_row_stride = 0;
};

// Launches the copy on `stream` (a cudaStream_t, or null for the default stream) and
// returns without waiting. Moves 16 bytes per access when every address and size allows,
// else the widest that does.
VoidResult launch_paged_copy(const PagedCopy& copy, void* stream = nullptr);

}  // namespace ferry::gpu
