#include "transport/engine/paged_write_plan.h"

#include <string>

namespace ferry {

VoidResult PagedWritePlan::build(const PagedWriteSpec& spec, uint32_t lkey, uint32_t max_sge,
                                 uint64_t max_message_bytes) {
  writes_.clear();
  sges_.clear();
  total_bytes_ = 0;
  if (spec.src_pages.size() != spec.dst_pages.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::to_string(spec.src_pages.size()) + " source pages but " +
                          std::to_string(spec.dst_pages.size()) + " destination pages");
  }
  if (spec.page_bytes == 0 || spec.page_bytes > max_message_bytes ||
      spec.page_bytes > UINT32_MAX) {
    return make_error(ErrorCode::kOutOfRange,
                      "page size " + std::to_string(spec.page_bytes) +
                          " must be in [1, " + std::to_string(max_message_bytes) + "]");
  }
  if (spec.src_stride < spec.page_bytes || spec.dst_stride < spec.page_bytes) {
    return make_error(ErrorCode::kInvalidArgument, "a page stride is smaller than the page size");
  }
  if (max_sge == 0) return make_error(ErrorCode::kInvalidArgument, "max_sge is 0");

  const size_t pages = spec.src_pages.size();
  writes_.reserve(pages);
  sges_.reserve(pages);
  PlannedWrite* current = nullptr;
  for (size_t i = 0; i < pages; ++i) {
    const uint64_t src = spec.src_base + spec.src_pages[i] * spec.src_stride;
    const uint64_t dst = spec.dst_base + spec.dst_pages[i] * spec.dst_stride;
    const bool extends_write = current != nullptr &&
                               current->remote_addr + current->length == dst &&
                               current->length + spec.page_bytes <= max_message_bytes &&
                               current->length + spec.page_bytes <= UINT32_MAX;
    if (extends_write) {
      Sge& last = sges_.back();
      if (last.addr + last.length == src && last.length + spec.page_bytes <= UINT32_MAX) {
        last.length += static_cast<uint32_t>(spec.page_bytes);
        current->length += static_cast<uint32_t>(spec.page_bytes);
        continue;
      }
      if (current->num_sge < max_sge) {
        sges_.push_back(Sge{src, static_cast<uint32_t>(spec.page_bytes), lkey});
        ++current->num_sge;
        current->length += static_cast<uint32_t>(spec.page_bytes);
        continue;
      }
    }
    writes_.push_back(PlannedWrite{dst, static_cast<uint32_t>(spec.page_bytes),
                                   static_cast<uint32_t>(sges_.size()), 1});
    sges_.push_back(Sge{src, static_cast<uint32_t>(spec.page_bytes), lkey});
    current = &writes_.back();
  }
  total_bytes_ = pages * spec.page_bytes;
  return {};
}

}  // namespace ferry
