#include "transport/workloads/pp/stage_link.h"

#include <cstring>
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
  if (max_message_bytes == 0 || max_message_bytes > kMaxMessageBytes) {
    return make_error(ErrorCode::kInvalidArgument, "max_message_bytes " + std::to_string(max_message_bytes) +
                                                       " not in [1, " + std::to_string(kMaxMessageBytes) + "]");
  }
  return {};
}

uint64_t StageLink::slot_stride() const {
  // Whole cache lines, so that every payload starts aligned.
  return kPayloadOffset + (max_message_bytes + kPayloadOffset - 1) / kPayloadOffset * kPayloadOffset;
}

Result<SlotHeader> StageLink::parse_header(std::span<const uint8_t> bytes, uint64_t sequence) const {
  SlotHeader header;
  if (bytes.size() < sizeof header) {
    return make_error(ErrorCode::kInternal, "a slot header of " + std::to_string(bytes.size()) + " bytes, expected " +
                                                std::to_string(sizeof header));
  }
  std::memcpy(&header, bytes.data(), sizeof header);
  if (header.sequence != sequence || header.bytes > max_message_bytes) {
    return make_error(ErrorCode::kInternal, "the header names micro-batch " + std::to_string(header.sequence) + " of " +
                                                std::to_string(header.bytes) + " bytes, expected micro-batch " +
                                                std::to_string(sequence) + " of at most " +
                                                std::to_string(max_message_bytes));
  }
  return header;
}

}  // namespace ferry::pp
