#include "sim/rc_endpoint.h"

#include <algorithm>

namespace ferry::sim {

void RcEndpoint::on_posted(SendOp& op) {
  op.first_psn = next_psn_;
  next_psn_ += op.packets;
  wake();
}

Frame* RcEndpoint::build_next_frame() {
  if (Frame* frame = next_response()) return frame;
  return next_request();
}

void RcEndpoint::handle_frame(const Frame& frame) {
  switch (frame.kind) {
    case FrameKind::kData:
    case FrameKind::kReadRequest: on_request(frame); break;
    case FrameKind::kAck:
      if (state() == EndpointState::kReady) acknowledge(frame.psn + 1);
      break;
    case FrameKind::kNak: on_nak(frame); break;
    case FrameKind::kReadResponse: on_read_response(frame); break;
    case FrameKind::kCnp: break;  // the base handles it
  }
}

void RcEndpoint::on_error() {
  responses_.clear();
  rnr_wait_ = false;
}

// ---------------------------------------------------------------------------------
// Requester

Frame* RcEndpoint::next_request() {
  if (state() != EndpointState::kReady || rnr_wait_) return nullptr;
  if (snd_nxt_ >= std::min(next_psn_, stop_psn_)) return nullptr;
  if (!pacing_allows()) return nullptr;
  // Requests before send_head_ completed: their ring slots may already hold newer ones.
  tx_seq_ = std::max(tx_seq_, send_head_);
  while (op_at(tx_seq_).first_psn + op_at(tx_seq_).packets <= snd_nxt_) ++tx_seq_;
  SendOp& op = op_at(tx_seq_);
  if (!op.started) {
    op.started = true;
    if (const Status status = check_local(op); status != Status::kSuccess) {
      fail(op, status);
      return nullptr;
    }
  }
  const uint64_t payload_size = sim().packet_payload();
  const uint64_t index = snd_nxt_ - op.first_psn;
  const uint64_t offset = index * payload_size;
  Frame* frame;
  if (op.request.opcode == Opcode::kRead) {
    frame = new_frame(FrameKind::kReadRequest);
    frame->index = static_cast<uint32_t>(op.packets - index);  // responses asked for
    frame->psn = snd_nxt_;
    snd_nxt_ = op.first_psn + op.packets;
  } else {
    const uint32_t payload = static_cast<uint32_t>(std::min(payload_size, op.bytes - offset));
    // Checked per packet too: a region deregistered mid-message stops the message.
    if (!allowed(source_list(op), offset, payload)) {
      fail(op, Status::kLocalProtectionError);
      return nullptr;
    }
    frame = new_payload_frame(FrameKind::kData, payload);
    frame->first = index == 0;
    frame->last = index + 1 == op.packets;
    frame->psn = snd_nxt_++;
    if (frame->psn < sent_high_) ++sim().counters.retransmitted_packets;
  }
  frame->opcode = static_cast<uint8_t>(op.request.opcode);
  frame->op_seq = op.seq;
  frame->offset = offset;
  frame->message_bytes = op.bytes;
  frame->remote_addr = op.request.remote_addr;
  frame->rkey = op.request.rkey;
  frame->imm = op.request.imm;
  sent_high_ = std::max(sent_high_, snd_nxt_);
  paced(frame->wire_bytes);
  if (!timer_armed()) arm_timer(sim().now_ns() + config().retry_timeout_ns);
  return frame;
}

SendOp* RcEndpoint::op_holding(uint64_t psn) {
  for (uint64_t seq = send_head_; seq < send_tail_; ++seq) {
    SendOp& op = op_at(seq);
    if (psn >= op.first_psn && psn < op.first_psn + op.packets) return &op;
  }
  return nullptr;
}

// An ACK or NAK covers no read whose responses are missing: responses move snd_una
// through a read themselves, in order.
void RcEndpoint::acknowledge(uint64_t psn) {
  for (uint64_t seq = send_head_; seq < send_tail_; ++seq) {
    const SendOp& op = op_at(seq);
    if (op.first_psn + op.packets <= snd_una_) continue;
    if (op.first_psn >= psn) break;
    if (op.request.opcode == Opcode::kRead) {
      psn = std::max(snd_una_, op.first_psn);
      break;
    }
  }
  advance_una(psn);
}

void RcEndpoint::advance_una(uint64_t psn) {
  if (psn <= snd_una_) return;
  snd_una_ = psn;
  timeouts_ = 0;
  if (snd_nxt_ < snd_una_) snd_nxt_ = snd_una_;
  if (snd_una_ < snd_nxt_) {
    arm_timer(sim().now_ns() + config().retry_timeout_ns);
  } else {
    disarm_timer();
  }
  complete_in_order();
}

void RcEndpoint::go_back(uint64_t psn) {
  if (sim().config.go_back_zero) {
    if (const SendOp* op = op_holding(psn)) psn = op->first_psn;
  }
  snd_nxt_ = psn;
  tx_seq_ = send_head_;
  wake();
}

void RcEndpoint::fail(SendOp& op, Status status) {
  op.status = status;
  op.state = SendOp::State::kFailed;
  stop_psn_ = std::min(stop_psn_, op.first_psn);
  complete_in_order();
}

void RcEndpoint::complete_in_order() {
  while (state() == EndpointState::kReady && send_head_ < send_tail_) {
    SendOp& op = op_at(send_head_);
    if (op.state == SendOp::State::kFailed) {
      report(op);
      enter_error();  // the rest flushes
      return;
    }
    if (op.state != SendOp::State::kPosted || op.first_psn + op.packets > snd_una_) return;
    report(op);
    retire();
  }
}

void RcEndpoint::on_nak(const Frame& frame) {
  // Go-back-0: the responder NAKs the first PSN of the message it discarded, which
  // precedes snd_una when ACKs came from the middle of that message.
  uint64_t oldest = snd_una_;
  if (sim().config.go_back_zero) {
    if (const SendOp* holding = op_holding(snd_una_)) oldest = std::min(oldest, holding->first_psn);
  }
  if (state() != EndpointState::kReady || frame.psn < oldest || frame.psn >= next_psn_) return;
  acknowledge(frame.psn);  // a NAK acknowledges what precedes it
  SendOp* op = op_holding(frame.psn);
  if (state() != EndpointState::kReady || op == nullptr) return;
  switch (frame.nak) {
    case NakCode::kSequence: go_back(frame.psn); break;
    case NakCode::kReceiverNotReady:
      if (!may_retry_rnr(*op)) {
        fail(*op, Status::kRnrRetryExceeded);
        break;
      }
      ++op->rnr_attempts;
      snd_nxt_ = frame.psn;
      tx_seq_ = send_head_;
      rnr_wait_ = true;
      arm_timer(sim().now_ns() + config().rnr_timer_ns);
      break;
    case NakCode::kRemoteAccess: fail(*op, Status::kRemoteAccessError); break;
    case NakCode::kRemoteOperation: fail(*op, Status::kRemoteOperationError); break;
    case NakCode::kInvalidRequest: fail(*op, Status::kRemoteInvalidRequest); break;
  }
}

void RcEndpoint::on_read_response(const Frame& frame) {
  if (state() != EndpointState::kReady) return;
  SendOp* op = active_op(frame.op_seq);
  if (op == nullptr || op->state != SendOp::State::kPosted) return;
  if (frame.psn > snd_una_) {
    // A response was lost: ask again from it, once per gap.
    if (!read_gap_) {
      read_gap_ = true;
      go_back(snd_una_);
    }
    return;
  }
  if (frame.psn < snd_una_ || frame.psn < op->first_psn) return;  // a duplicate
  Status refusal = Status::kSuccess;
  switch (place_read_response(*op, frame, &refusal)) {
    case Placement::kPlaced: break;
    case Placement::kNoSource: return;
    case Placement::kRefused: fail(*op, refusal); return;
  }
  read_gap_ = false;
  advance_una(frame.psn + 1);
}

void RcEndpoint::on_timeout() {
  if (state() != EndpointState::kReady) return;
  if (rnr_wait_) {
    rnr_wait_ = false;
    wake();
    return;
  }
  if (snd_una_ >= snd_nxt_) return;
  ++sim().counters.timeouts;
  if (++timeouts_ > config().retry_count) {
    if (SendOp* op = op_holding(snd_una_)) fail(*op, Status::kRetryExceeded);
    return;
  }
  read_gap_ = false;
  go_back(snd_una_);
  arm_timer(sim().now_ns() + config().retry_timeout_ns);
}

// ---------------------------------------------------------------------------------
// Responder

void RcEndpoint::on_request(const Frame& frame) {
  if (frame.psn < epsn_) {
    // A duplicate: reads run again (their responses were lost); the rest is
    // acknowledged again, in case the acknowledgement was lost.
    if (frame.kind == FrameKind::kReadRequest) {
      execute_read(frame);
    } else {
      queue_ack(epsn_ - 1);
    }
    return;
  }
  if (frame.psn > epsn_) {
    if (!nak_sent_) {
      nak_sent_ = true;
      ++sim().counters.naks_sent;
      // Go-back-0: the partial message is discarded too; it must land again from its
      // first packet, all of it in one attempt.
      if (sim().config.go_back_zero) epsn_ = message_start_;
      queue_nak(NakCode::kSequence, epsn_);
    }
    return;
  }
  nak_sent_ = false;
  if (frame.kind == FrameKind::kReadRequest) {
    if (execute_read(frame)) epsn_ += frame.index;
    message_start_ = epsn_;
    return;
  }
  accept_data(frame);
}

bool RcEndpoint::execute_read(const Frame& frame) {
  if (!remote_read_allowed(frame)) {
    refuse(NakCode::kRemoteAccess, frame.psn);
    return false;
  }
  // Running a read again replaces whatever of its responses (and later ones) is queued.
  for (auto it = responses_.begin(); it != responses_.end();) {
    if (it->kind == FrameKind::kReadResponse && it->psn + it->left > frame.psn) {
      if (it->psn >= frame.psn) {
        it = responses_.erase(it);
        continue;
      }
      it->left = static_cast<uint32_t>(frame.psn - it->psn);
    }
    ++it;
  }
  Response stream;
  stream.kind = FrameKind::kReadResponse;
  stream.psn = frame.psn;
  stream.op_seq = frame.op_seq;
  stream.offset = frame.offset;
  stream.left = frame.index;
  stream.message_bytes = frame.message_bytes;
  stream.remote_addr = frame.remote_addr;
  stream.rkey = frame.rkey;
  responses_.push_back(stream);
  unacknowledged_ = 0;  // the responses acknowledge
  wake();
  return true;
}

// The expected packet of a write, write-with-imm or send. The first packet is checked
// as a whole message (key, range, rights, recv); every packet is placed as it is
// accepted; the last one consumes the recv and completes it.
void RcEndpoint::accept_data(const Frame& frame) {
  const auto opcode = static_cast<Opcode>(frame.opcode);
  if (frame.first) {
    if (opcode != Opcode::kSend && !remote_write_allowed(frame)) {
      refuse(NakCode::kRemoteAccess, frame.psn);
      return;
    }
    if (consumes_recv(frame.opcode) && recvs_.empty()) {
      nak_sent_ = true;  // drop what follows until the retry
      queue_nak(NakCode::kReceiverNotReady, frame.psn);
      return;
    }
    if (opcode == Opcode::kSend) {
      if (const Status status = check_recv(recvs_.front(), frame.message_bytes);
          status != Status::kSuccess) {
        const RecvOp bad = recvs_.front();
        recvs_.pop_front();
        complete_recv(bad, status, CompletionKind::kRecv, 0, false, 0);
        refuse(nak_for_recv(status), frame.psn);
        return;
      }
    }
  }
  if (opcode == Opcode::kSend && recvs_.empty()) return;  // flushed meanwhile
  switch (place_payload(frame, opcode == Opcode::kSend ? &recvs_.front() : nullptr)) {
    case Placement::kPlaced: break;
    case Placement::kNoSource: return;
    case Placement::kRefused:
      refuse(opcode == Opcode::kSend ? NakCode::kRemoteOperation : NakCode::kRemoteAccess, frame.psn);
      return;
  }
  ++epsn_;
  ++unacknowledged_;
  if (frame.last) {
    message_start_ = epsn_;
    if (consumes_recv(frame.opcode)) {
      const RecvOp recv = recvs_.front();
      recvs_.pop_front();
      const bool with_imm = opcode == Opcode::kWriteWithImm;
      complete_recv(recv, Status::kSuccess,
                    with_imm ? CompletionKind::kRecvWriteWithImm : CompletionKind::kRecv,
                    static_cast<uint32_t>(frame.message_bytes), with_imm, with_imm ? frame.imm : 0);
    }
    queue_ack(frame.psn);
  } else if (unacknowledged_ >= sim().ack_interval()) {
    queue_ack(frame.psn);
  }
}

void RcEndpoint::queue_ack(uint64_t psn) {
  unacknowledged_ = 0;
  if (!responses_.empty() && responses_.back().kind == FrameKind::kAck) {
    responses_.back().psn = psn;  // coalesce: a newer ACK covers the queued one
    return;
  }
  Response ack;
  ack.kind = FrameKind::kAck;
  ack.psn = psn;
  responses_.push_back(ack);
  wake();
}

void RcEndpoint::queue_nak(NakCode code, uint64_t psn) {
  Response nak;
  nak.kind = FrameKind::kNak;
  nak.nak = code;
  nak.psn = psn;
  responses_.push_back(nak);
  wake();
}

void RcEndpoint::refuse(NakCode code, uint64_t psn) {
  enter_error();  // clears the responses; the NAK goes out after
  queue_nak(code, psn);
}

Frame* RcEndpoint::next_response() {
  if (responses_.empty()) return nullptr;
  Response& r = responses_.front();
  if (r.kind != FrameKind::kReadResponse) {
    Frame* frame = new_frame(r.kind);
    frame->psn = r.psn;
    frame->nak = r.nak;
    responses_.pop_front();
    return frame;
  }
  const uint64_t payload_size = sim().packet_payload();
  const uint32_t payload = static_cast<uint32_t>(std::min(payload_size, r.message_bytes - r.offset));
  Frame* frame = new_payload_frame(FrameKind::kReadResponse, payload);
  frame->psn = r.psn;
  frame->op_seq = r.op_seq;
  frame->offset = r.offset;
  frame->message_bytes = r.message_bytes;
  frame->remote_addr = r.remote_addr;
  frame->rkey = r.rkey;
  frame->last = r.left == 1;
  ++r.psn;
  r.offset += payload_size;
  if (--r.left == 0) responses_.pop_front();
  return frame;
}

}  // namespace ferry::sim
