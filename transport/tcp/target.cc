// Endpoints of the tcp provider, the target's side: the peer's connections, and the
// requests arriving on them, executed one at a time in posting order. Every check (key,
// range, rights, domain, the recv's list) is made when a request's first chunk arrives,
// before a byte of it lands; a refused request's bytes are read and dropped.
#include <string>

#include "transport/tcp/internal.h"

namespace ferry::tcp {

void TcpEndpoint::attach_incoming_locked(Lane* lane, const Hello& hello) {
  if (hello.initiator_nonce != in_peer_nonce_ || hello.initiator_endpoint != in_peer_id_) {
    // Another initiator (or the same one again): its numbering starts afresh.
    for (Lane* old : std::vector<Lane*>(in_lanes_)) provider_.close_lane_locked(old);
    in_peer_nonce_ = hello.initiator_nonce;
    in_peer_id_ = hello.initiator_endpoint;
    expected_ssn_ = 0;
    succeeded_through_ = 0;
    ack_due_ = false;
    target_ = TargetOp{};
  }
  in_lanes_.push_back(lane);
  if (in_lanes_.size() == 1) send_credit_locked();
}

void TcpEndpoint::forget_lane_locked(Lane* lane) {
  std::erase(out_lanes_, lane);
  std::erase(in_lanes_, lane);
}

void TcpEndpoint::incoming_lost_locked() {
  for (Lane* lane : std::vector<Lane*>(in_lanes_)) provider_.close_lane_locked(lane);
  target_ = TargetOp{};  // its pins go
  in_peer_nonce_ = 0;
  in_peer_id_ = 0;
}

bool TcpEndpoint::connected_back_locked() const {
  return state() == EndpointState::kReady && peer_nonce_ == in_peer_nonce_ && peer_id_ == in_peer_id_;
}

void TcpEndpoint::send_credit_locked() {
  if (in_lanes_.empty()) return;
  OutFrame frame;
  frame.header.type = static_cast<uint8_t>(FrameType::kCredit);
  frame.header.ssn = posted_;
  provider_.send_frame_locked(in_lanes_.front(), std::move(frame));
}

void TcpEndpoint::flush_ack_locked() {
  if (!ack_due_) return;
  ack_due_ = false;
  ack_locked(succeeded_through_ - 1, static_cast<uint8_t>(Status::kSuccess));
}

void TcpEndpoint::ack_locked(uint64_t ssn, uint8_t status) {
  if (in_lanes_.empty()) return;
  OutFrame frame;
  frame.header.type = static_cast<uint8_t>(FrameType::kAck);
  frame.header.ssn = ssn;
  frame.header.status = status;
  provider_.send_frame_locked(in_lanes_.front(), std::move(frame));
}

const std::vector<Piece>* TcpEndpoint::on_request_locked(const Frame& frame) {
  if (!target_.active) {
    // The request's first chunk: check it all now.
    target_ = TargetOp{};
    target_.active = true;
    target_.type = frame.type;
    // A read request brings no bytes: it is done once answered.
    target_.total = frame.type == static_cast<uint8_t>(FrameType::kRead) ? 0 : frame.total_len;
    target_.imm = frame.imm;
    target_.status = static_cast<uint8_t>(Status::kSuccess);
    target_.pins = std::make_shared<Pins>(provider_);
    const auto type = static_cast<FrameType>(frame.type);
    const KeyTable& keys = provider_.keys;
    auto refuse = [&](Status status) {
      target_.status = static_cast<uint8_t>(status);
      target_.discard = true;
    };
    if (!connected_back_locked()) {
      target_.status = kNotExecuted;
      target_.discard = true;
    } else if (type == FrameType::kSend) {
      if (recvs_.empty()) {
        refuse(Status::kRnrRetryExceeded);  // the initiator had no credit for it
      } else {
        target_.recv = recvs_.front();
        target_.has_recv = true;
        recvs_.pop_front();
        uint64_t room = 0;
        bool writable = true;
        for (uint32_t i = 0; i < target_.recv.num_sge; ++i) {
          const Sge& sge = target_.recv.sges[i];
          room += sge.length;
          if (sge.length == 0) continue;
          if (!keys.allows(pd_.id, sge.lkey, sge.addr, sge.length, kAccessLocalWrite)) {
            writable = false;
            break;
          }
          target_.pins->add(sge.lkey);
          target_.dest.push_back(Piece{reinterpret_cast<uint8_t*>(sge.addr), sge.length,
                                       keys.lookup(sge.lkey)->kind == MemoryKind::kDevice});
        }
        if (!writable) {
          target_.recv_status = Status::kLocalProtectionError;
          refuse(Status::kRemoteOperationError);
        } else if (room < frame.total_len) {
          // As an RC responder: a NAK "invalid request".
          target_.recv_status = Status::kLocalLengthError;
          refuse(Status::kRemoteInvalidRequest);
        }
      }
    } else {
      // Write, write-with-imm, read: one range of this endpoint's domain.
      const uint32_t needed = type == FrameType::kRead ? kAccessRemoteRead : kAccessRemoteWrite;
      if (frame.total_len > 0) {
        if (!keys.allows(pd_.id, frame.rkey, frame.remote_addr, frame.total_len, needed)) {
          refuse(Status::kRemoteAccessError);
        } else {
          target_.pins->add(frame.rkey);
          target_.dest.push_back(Piece{reinterpret_cast<uint8_t*>(frame.remote_addr), frame.total_len,
                                       keys.lookup(frame.rkey)->kind == MemoryKind::kDevice});
        }
      }
      if (type == FrameType::kWriteWithImm && !target_.discard) {
        if (recvs_.empty()) {
          refuse(Status::kRnrRetryExceeded);
        } else {
          target_.recv = recvs_.front();
          target_.has_recv = true;
          recvs_.pop_front();
        }
      }
      if (type == FrameType::kRead) {
        respond_read_locked(frame);
        return nullptr;
      }
    }
  }
  return target_.discard ? nullptr : &target_.dest;
}

void TcpEndpoint::on_request_chunk_locked(const Frame& frame, bool copied) {
  if (!target_.active) return;
  if (!copied && target_.status == static_cast<uint8_t>(Status::kSuccess)) {
    target_.status = static_cast<uint8_t>(Status::kRemoteOperationError);
    target_.recv_status = Status::kLocalProtectionError;
  }
  target_.received += frame.chunk_len;
  if (target_.received >= target_.total) finish_target_op_locked();
}

void TcpEndpoint::respond_read_locked(const Frame& frame) {
  const uint64_t ssn = frame.ssn;
  if (target_.status == static_cast<uint8_t>(Status::kSuccess) && frame.total_len > 0 && !in_lanes_.empty()) {
    // The bytes back, cut as requests are, then the ack.
    const uint64_t stripe = std::max<uint32_t>(provider_.options().stripe_bytes, 4096);
    uint64_t offset = 0;
    size_t c = 0;
    while (offset < frame.total_len && !in_lanes_.empty()) {  // a write may fail and close them
      const uint64_t n = std::min(stripe, frame.total_len - offset);
      OutFrame out;
      out.header.type = static_cast<uint8_t>(FrameType::kReadData);
      out.header.ssn = ssn;
      out.header.offset = offset;
      out.header.chunk_len = static_cast<uint32_t>(n);
      out.header.total_len = frame.total_len;
      out.data = slice(target_.dest, offset, n);
      if (any_device(out.data)) {
        out.staged.resize(n);
        if (!gather(out.data, out.staged.data())) target_.status = static_cast<uint8_t>(Status::kRemoteOperationError);
        out.data = {Piece{out.staged.data(), n, false}};
      }
      out.pins = target_.pins;
      provider_.send_frame_locked(in_lanes_[c % in_lanes_.size()], std::move(out));
      offset += n;
      ++c;
    }
  }
  finish_target_op_locked();
}

void TcpEndpoint::finish_target_op_locked() {
  const TargetOp op = std::move(target_);
  target_ = TargetOp{};
  const uint64_t ssn = expected_ssn_++;
  const bool ok = op.status == static_cast<uint8_t>(Status::kSuccess);
  if (op.has_recv && (ok || op.recv_status != Status::kSuccess)) {
    // With the data in place, the recv's completion.
    Completion c;
    c.cookie = op.recv.cookie;
    c.status = op.recv_status;
    c.endpoint_id = id_;
    c.kind = op.type == static_cast<uint8_t>(FrameType::kSend) ? CompletionKind::kRecv : CompletionKind::kRecvWriteWithImm;
    c.byte_len = op.recv_status == Status::kSuccess ? static_cast<uint32_t>(op.total) : 0;
    if (c.kind == CompletionKind::kRecvWriteWithImm) {
      c.has_imm = true;
      c.imm = op.imm;
    }
    push_recv_completion_locked(c);
  }
  if (ok) {
    succeeded_through_ = ssn + 1;
    ack_due_ = true;  // sent once the requests that arrived together are done
  } else {
    flush_ack_locked();
    ack_locked(ssn, op.status);
  }
  // RC: a request this side refused puts it in error too.
  if (!ok && op.status != kNotExecuted && op.status != static_cast<uint8_t>(Status::kRnrRetryExceeded) &&
      state() != EndpointState::kError) {
    enter_error_locked();
  }
  // Requests waiting on other connections for their turn go on: read_locked reads them.
}

}  // namespace ferry::tcp
