#include "transport/workloads/pp/stage_link.h"

#include <string>

namespace ferry::pp {

VoidResult StageLink::validate() const {
  if (id >= kMaxLinks) {
    return make_error(ErrorCode::kOutOfRange,
                      "link id " + std::to_string(id) + " is not below " + std::to_string(kMaxLinks));
  }
  if (credits == 0 || credits > kMaxCredits) {
    return make_error(ErrorCode::kOutOfRange, "credits " + std::to_string(credits) + " not in [1, " +
                                                  std::to_string(kMaxCredits) + "]");
  }
  if (max_message_bytes == 0) {
    return make_error(ErrorCode::kInvalidArgument, "max_message_bytes must be positive");
  }
  return {};
}

uint64_t StageLink::slot_stride() const {
  // Whole cache lines, so that every payload starts aligned.
  return kPayloadOffset + (max_message_bytes + kPayloadOffset - 1) / kPayloadOffset * kPayloadOffset;
}

}  // namespace ferry::pp
