// PagedWritePlan: turns "copy these pages to those pages" into RDMA writes.
//
// KV-cache migration moves blocks named by page indices on both sides. Each write has
// one contiguous destination range and gathers its source through a scatter-gather
// list, so the plan merges pages whose destinations follow each other into one write,
// and pages whose sources follow each other into one list entry, up to the device's
// entries per request and bytes per message. Building reuses its buffers: after the
// first call it allocates nothing.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "transport/provider.h"
#include "transport/result.h"

namespace ferry {

struct PagedWriteSpec {
  std::span<const uint32_t> src_pages;  // page i of the transfer is src_pages[i] ...
  std::span<const uint32_t> dst_pages;  // ... landing in dst_pages[i]
  uint64_t page_bytes = 0;              // bytes moved per page
  uint64_t src_base = 0;                // address of source page 0
  uint64_t src_stride = 0;              // bytes between source pages (>= page_bytes)
  uint64_t dst_base = 0;                // address of destination page 0 (peer's memory)
  uint64_t dst_stride = 0;
};

struct PlannedWrite {
  uint64_t remote_addr = 0;
  uint32_t length = 0;
  uint32_t first_sge = 0;  // into PagedWritePlan::sges()
  uint32_t num_sge = 0;
};

class PagedWritePlan {
 public:
  // Replaces the plan with one for `spec`. `lkey` goes into every list entry.
  VoidResult build(const PagedWriteSpec& spec, uint32_t lkey, uint32_t max_sge,
                   uint64_t max_message_bytes);

  const std::vector<PlannedWrite>& writes() const { return writes_; }
  const std::vector<Sge>& sges() const { return sges_; }
  // Hands the lists over without copying them: `into` gets them, and the plan keeps
  // `into`'s old memory for its next build (left empty until then).
  void take_sges(std::vector<Sge>& into) {
    into.swap(sges_);
    sges_.clear();
  }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  std::vector<PlannedWrite> writes_;
  std::vector<Sge> sges_;
  uint64_t total_bytes_ = 0;
};

}  // namespace ferry
