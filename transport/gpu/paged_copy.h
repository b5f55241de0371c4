// PagedCopy: many same-shaped copies in one kernel launch — the gather and scatter that
// KV pages (block tables), MoE token rows (permute, unpermute) and head re-sharding need
// when a transfer cannot be written page by page.
//
// Page i of part q copies `rows` rows of `row_bytes` bytes:
//   from src + q * src_part_stride + src_page(i) * src_page_stride + r * src_row_stride
//   to   dst + q * dst_part_stride + dst_page(i) * dst_page_stride + r * dst_row_stride
// for r in [0, rows), where src_page(i) = src_pages[i] (or i when src_pages is null),
// likewise for dst. The page index arrays live in GPU memory. Offsets inside a page (a
// head range inside a token row) are folded into src/dst. Parts are same-shaped arrays
// that share the page tables (the K and V halves of a KV layer): one launch moves all.
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
  uint32_t parts = 1;
  uint64_t dst_part_stride = 0;
  uint64_t src_part_stride = 0;
};

// How the GPU runs a paged copy: each thread loads and stores 16 bytes (or the widest
// access the addresses allow), four in flight. The defaults measured fastest on an H100
// (docs/PERFORMANCE.md); gpu_bench's BM_PagedCopyShape measures the others.
struct PagedCopyShape {
  // Thread blocks per multiprocessor, each taking page after page; 0: one block per page.
  uint32_t blocks_per_multiprocessor = 0;
  // Threads per block: 128, 256, 512 or 1024; 0 picks by page size (256 below 32 KiB a
  // page, else 512: a block then moves 16 or 32 KiB a step).
  uint32_t threads = 0;
};

// Launches the copy on `stream` (a cudaStream_t, or null for the default stream) and
// returns without waiting.
VoidResult launch_paged_copy(const PagedCopy& copy, void* stream = nullptr, const PagedCopyShape& shape = {});

}  // namespace ferry::gpu
