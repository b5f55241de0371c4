#include "transport/provider_support/work_request_checks.h"

#include <string>

namespace ferry {

std::optional<Error> check_send_request(const WorkRequest& wr, const DeviceAttributes& attr, size_t outstanding,
                                        size_t capacity) {
  if (wr.num_sge > attr.max_sge || (wr.num_sge > 0 && wr.sg_list == nullptr)) {
    return make_error(ErrorCode::kInvalidArgument, std::to_string(wr.num_sge) +
                                                       " scatter-gather entries, the device takes at most " +
                                                       std::to_string(attr.max_sge));
  }
  if (wr.opcode == Opcode::kRead && !attr.supports_rdma_read) {
    return make_error(ErrorCode::kUnsupported, attr.name + " does not support RDMA read");
  }
  if (outstanding >= capacity) {
    return make_error(ErrorCode::kResourceExhausted, "send queue full (" + std::to_string(capacity) + " outstanding)");
  }
  return std::nullopt;
}

std::optional<Error> check_recv_request(const RecvRequest& rr, const DeviceAttributes& attr) {
  if (rr.num_sge > attr.max_sge || (rr.num_sge > 0 && rr.sg_list == nullptr)) {
    return make_error(ErrorCode::kInvalidArgument, std::to_string(rr.num_sge) +
                                                       " scatter-gather entries, the device takes at most " +
                                                       std::to_string(attr.max_sge));
  }
  return std::nullopt;
}

CompletionKind local_kind(Opcode op) {
  switch (op) {
    case Opcode::kWrite:
    case Opcode::kWriteWithImm: return CompletionKind::kWrite;
    case Opcode::kRead: return CompletionKind::kRead;
    case Opcode::kSend: return CompletionKind::kSend;
  }
  return CompletionKind::kWrite;
}

}  // namespace ferry
