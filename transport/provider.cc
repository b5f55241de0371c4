#include "transport/provider.h"

namespace ferry {

const char* to_string(EndpointKind kind) {
  switch (kind) {
    case EndpointKind::kRc: return "RC";
    case EndpointKind::kSrd: return "SRD";
  }
  return "?";
}

const char* to_string(Opcode op) {
  switch (op) {
    case Opcode::kWrite: return "write";
    case Opcode::kWriteWithImm: return "write-with-imm";
    case Opcode::kRead: return "read";
    case Opcode::kSend: return "send";
  }
  return "?";
}

const char* to_string(CompletionKind kind) {
  switch (kind) {
    case CompletionKind::kWrite: return "write";
    case CompletionKind::kRead: return "read";
    case CompletionKind::kSend: return "send";
    case CompletionKind::kRecv: return "recv";
    case CompletionKind::kRecvWriteWithImm: return "recv-write-with-imm";
  }
  return "?";
}

const char* to_string(Status status) {
  switch (status) {
    case Status::kSuccess: return "success";
    case Status::kLocalLengthError: return "local length error";
    case Status::kLocalProtectionError: return "local protection error";
    case Status::kRemoteAccessError: return "remote access error";
    case Status::kRemoteOperationError: return "remote operation error";
    case Status::kRemoteInvalidRequest: return "remote invalid request";
    case Status::kRnrRetryExceeded: return "receiver-not-ready retries exceeded";
    case Status::kRetryExceeded: return "transport retries exceeded";
    case Status::kFlushed: return "flushed";
  }
  return "?";
}

const char* to_string(EndpointState state) {
  switch (state) {
    case EndpointState::kInit: return "init";
    case EndpointState::kReady: return "ready";
    case EndpointState::kError: return "error";
  }
  return "?";
}

const char* to_string(MemoryKind kind) { return kind == MemoryKind::kDevice ? "GPU" : "host"; }

}  // namespace ferry
