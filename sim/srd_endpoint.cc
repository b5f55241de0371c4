#include "sim/srd_endpoint.h"

#include <algorithm>
#include <cmath>

namespace ferry::sim {

SrdEndpoint::~SrdEndpoint() {
  for (Frame* frame : control_) sim().frames.put(frame);
}

void SrdEndpoint::on_posted(SendOp& op) {
  op.acked.assign(op.packets, false);
  op.acked_count = 0;
  op.next_new = 0;
  op.attempt = 0;
  op.unacked_sent = 0;
  op.resume_ns = 0;
  wake();
}

Frame* SrdEndpoint::build_next_frame() {
  if (!control_.empty()) {
    Frame* frame = control_.front();
    control_.pop_front();
    return frame;
  }
  if (state() != EndpointState::kReady) return nullptr;
  return next_packet();
}

void SrdEndpoint::handle_frame(const Frame& frame) {
  switch (frame.kind) {
    case FrameKind::kData: on_data(frame); break;
    case FrameKind::kReadRequest: on_read_request(frame); break;
    case FrameKind::kAck: on_ack(frame); break;
    case FrameKind::kReadResponse: on_read_response(frame); break;
    case FrameKind::kNak: on_nak(frame); break;
    case FrameKind::kCnp: break;  // the base handles it
  }
}

void SrdEndpoint::on_error() {
  for (Frame* frame : control_) sim().frames.put(frame);
  control_.clear();
  in_flight_ = {};
  resend_.clear();
  window_used_ = 0;
  // Recvs that messages in progress had taken flush with the rest.
  for (auto it = inbound_.rbegin(); it != inbound_.rend(); ++it) {
    if (it->second.has_recv) recvs_.push_front(it->second.recv);
  }
  inbound_.clear();
}

// ---------------------------------------------------------------------------------
// Sender

// Packets whose timer expired go first; then new packets, request after request, while
// the window has room.
Frame* SrdEndpoint::next_packet() {
  if (!pacing_allows()) return nullptr;
  while (!resend_.empty()) {
    const Sent sent = resend_.front();
    resend_.pop_front();
    if (!waiting(sent)) continue;
    Frame* frame = build_packet(op_at(sent.seq), sent.index, sent.retries, sent.first_sent_ns);
    if (frame == nullptr) continue;
    ++sim().counters.retransmitted_packets;
    paced(frame->wire_bytes);
    return frame;
  }
  if (window_used_ >= sim().srd_window()) return nullptr;
  const uint64_t now = sim().now_ns();
  for (uint64_t seq = std::max(tx_seq_, send_head_); seq < send_tail_; ++seq) {
    SendOp& op = op_at(seq);
    const bool all_sent = op.state != SendOp::State::kPosted || op.next_new >= op.packets;
    if (all_sent && seq == tx_seq_) ++tx_seq_;
    if (all_sent || op.resume_ns > now) continue;
    if (!op.started) {
      op.started = true;
      if (const Status status = check_local(op); status != Status::kSuccess) {
        finish(op, status);
        continue;
      }
    }
    Frame* frame = build_packet(op, op.next_new, 0, now);
    if (frame == nullptr) continue;
    ++op.next_new;
    ++op.unacked_sent;
    ++window_used_;
    paced(frame->wire_bytes);
    return frame;
  }
  return nullptr;
}

Frame* SrdEndpoint::build_packet(SendOp& op, uint32_t index, uint32_t retries,
                                 uint64_t first_sent_ns) {
  const uint64_t payload_size = sim().packet_payload();
  const uint64_t offset = index * payload_size;
  Frame* frame;
  if (op.request.opcode == Opcode::kRead) {
    frame = new_frame(FrameKind::kReadRequest);
  } else {
    const uint32_t payload = static_cast<uint32_t>(std::min(payload_size, op.bytes - offset));
    // Checked per packet too: a region deregistered mid-message stops the message.
    if (!allowed(source_list(op), offset, payload)) {
      finish(op, Status::kLocalProtectionError);
      return nullptr;
    }
    frame = new_payload_frame(FrameKind::kData, payload);
  }
  frame->opcode = static_cast<uint8_t>(op.request.opcode);
  frame->psn = op.seq;
  frame->index = index;
  frame->attempt = op.attempt;
  frame->op_seq = op.seq;
  frame->offset = offset;
  frame->message_bytes = op.bytes;
  frame->remote_addr = op.request.remote_addr;
  frame->rkey = op.request.rkey;
  frame->imm = op.request.imm;
  frame->sender_head = send_head_;
  frame->first = index == 0;
  frame->last = index + 1 == op.packets;
  frame->entropy = static_cast<uint16_t>(sim().network->draw(device.index, sim().config.srd_paths));
  const uint64_t now = sim().now_ns();
  frame->sent_ns = now;
  const uint64_t deadline = now + retransmit_timeout();
  in_flight_.push(Sent{op.seq, index, op.attempt, retries, first_sent_ns, now, deadline});
  if (deadline < timer_deadline()) arm_timer(deadline);
  return frame;
}

// Until the first sample, the verbs timeout; then srtt + 4 rttvar, backed off, at least
// srd_min_rto_ns and at most the time after which the request gives up.
uint64_t SrdEndpoint::retransmit_timeout() const {
  if (!measured_) return config().retry_timeout_ns;
  const double rto =
      std::max(srtt_ns_ + 4 * rttvar_ns_, static_cast<double>(sim().config.srd_min_rto_ns)) * backoff_;
  return std::min(static_cast<uint64_t>(rto), give_up_ns());
}

uint64_t SrdEndpoint::give_up_ns() const {
  return (uint64_t{config().retry_count} + 1) * config().retry_timeout_ns;
}

// RFC 6298's estimator. Every copy of a packet carries its own send time, so resends
// give clean samples too.
void SrdEndpoint::sample_round_trip(uint64_t sent_ns) {
  backoff_ = 1;
  const double sample = static_cast<double>(sim().now_ns() - sent_ns);
  if (!measured_) {
    srtt_ns_ = sample;
    rttvar_ns_ = sample / 2;
    measured_ = true;
    return;
  }
  rttvar_ns_ = 0.75 * rttvar_ns_ + 0.25 * std::fabs(srtt_ns_ - sample);
  srtt_ns_ = 0.875 * srtt_ns_ + 0.125 * sample;
}

bool SrdEndpoint::waiting(const Sent& sent) {
  const SendOp* op = active_op(sent.seq);
  return op != nullptr && op->state == SendOp::State::kPosted && op->attempt == sent.attempt &&
         !op->acked[sent.index];
}

void SrdEndpoint::on_ack(const Frame& frame) {
  SendOp* op = active_op(frame.psn);
  if (op == nullptr || op->state != SendOp::State::kPosted || op->attempt != frame.attempt ||
      frame.index >= op->packets || op->acked[frame.index]) {
    return;  // late, duplicate, or of an attempt that was restarted
  }
  sample_round_trip(frame.sent_ns);
  acknowledge(*op, frame.index);
}

// A chunk of a read came back: place it; it acknowledges its request packet.
void SrdEndpoint::on_read_response(const Frame& frame) {
  SendOp* op = active_op(frame.psn);
  if (op == nullptr || op->state != SendOp::State::kPosted || op->attempt != frame.attempt ||
      frame.index >= op->packets || op->acked[frame.index]) {
    return;
  }
  Status refusal = Status::kSuccess;
  switch (place_read_response(*op, frame, &refusal)) {
    case Placement::kPlaced: break;
    case Placement::kNoSource: return;
    case Placement::kRefused: finish(*op, refusal); return;
  }
  sample_round_trip(frame.sent_ns);
  acknowledge(*op, frame.index);
}

void SrdEndpoint::acknowledge(SendOp& op, uint32_t index) {
  op.acked[index] = true;
  ++op.acked_count;
  --op.unacked_sent;
  --window_used_;
  if (op.acked_count == op.packets) finish(op, Status::kSuccess);
  wake();  // the window has room again
}

void SrdEndpoint::on_nak(const Frame& frame) {
  SendOp* op = active_op(frame.psn);
  if (op == nullptr || op->state != SendOp::State::kPosted || op->attempt != frame.attempt) return;
  switch (frame.nak) {
    case NakCode::kReceiverNotReady:
      if (!may_retry_rnr(*op)) {
        finish(*op, Status::kRnrRetryExceeded);
      } else {
        ++op->rnr_attempts;
        restart(*op);
      }
      break;
    case NakCode::kRemoteAccess: finish(*op, Status::kRemoteAccessError); break;
    case NakCode::kRemoteOperation: finish(*op, Status::kRemoteOperationError); break;
    case NakCode::kInvalidRequest: finish(*op, Status::kRemoteInvalidRequest); break;
    case NakCode::kSequence: break;  // RC only
  }
}

// SRD completes each request on its own, in any order; an error fails only it.
void SrdEndpoint::finish(SendOp& op, Status status) {
  op.status = status;
  window_used_ -= op.unacked_sent;
  op.unacked_sent = 0;
  report(op);
  retire();
}

// The receiver had no recv: the whole message goes again, as a new attempt, after the
// RNR timer.
void SrdEndpoint::restart(SendOp& op) {
  ++op.attempt;
  op.acked.assign(op.packets, false);
  op.acked_count = 0;
  op.next_new = 0;
  window_used_ -= op.unacked_sent;
  op.unacked_sent = 0;
  op.resume_ns = sim().now_ns() + config().rnr_timer_ns;
  tx_seq_ = std::min(tx_seq_, op.seq);
  if (op.resume_ns < timer_deadline()) arm_timer(op.resume_ns);
}

void SrdEndpoint::on_timeout() {
  const uint64_t now = sim().now_ns();
  while (!in_flight_.empty() && in_flight_.top().deadline_ns <= now) {
    const Sent sent = in_flight_.top();
    in_flight_.pop();
    if (!waiting(sent)) continue;
    if (now - sent.first_sent_ns >= give_up_ns()) {
      finish(op_at(sent.seq), Status::kRetryExceeded);
      continue;
    }
    const uint64_t due = sent.sent_ns + retransmit_timeout();
    if (due > now) {
      Sent later = sent;  // the RTO grew since it was sent: not lost yet
      later.deadline_ns = due;
      in_flight_.push(later);
      continue;
    }
    ++sim().counters.timeouts;
    backoff_ = std::min<uint32_t>(backoff_ * 2, 1024);
    Sent again = sent;
    ++again.retries;
    resend_.push_back(again);
  }
  arm_next_deadline();
  wake();  // resends, and requests whose RNR wait ended
}

void SrdEndpoint::arm_next_deadline() {
  while (!in_flight_.empty() && !waiting(in_flight_.top())) in_flight_.pop();
  uint64_t next = in_flight_.empty() ? kNever : in_flight_.top().deadline_ns;
  const uint64_t now = sim().now_ns();
  for (uint64_t seq = send_head_; seq < send_tail_; ++seq) {
    const SendOp& op = op_at(seq);
    if (op.state == SendOp::State::kPosted && op.resume_ns > now) next = std::min(next, op.resume_ns);
  }
  if (next != kNever) arm_timer(next);
}

// ---------------------------------------------------------------------------------
// Receiver

void SrdEndpoint::on_data(const Frame& frame) {
  Inbound* message = admit(frame);
  if (message == nullptr) return;
  if (message->refused) {
    reply(FrameKind::kNak, frame, message->refusal);
    return;
  }
  if (message->complete || message->got[frame.index]) {
    reply(FrameKind::kAck, frame);  // a duplicate: its acknowledgement was lost
    return;
  }
  const auto opcode = static_cast<Opcode>(frame.opcode);
  switch (place_payload(frame, opcode == Opcode::kSend ? &message->recv : nullptr)) {
    case Placement::kPlaced: break;
    case Placement::kNoSource: return;
    case Placement::kRefused:
      refuse(*message, opcode == Opcode::kSend ? NakCode::kRemoteOperation : NakCode::kRemoteAccess,
             frame);
      return;
  }
  message->got[frame.index] = true;
  ++message->received;
  reply(FrameKind::kAck, frame);
  if (message->received < message->packets) return;
  message->complete = true;
  if (message->has_recv) {
    message->has_recv = false;
    const bool with_imm = opcode == Opcode::kWriteWithImm;
    complete_recv(message->recv, Status::kSuccess,
                  with_imm ? CompletionKind::kRecvWriteWithImm : CompletionKind::kRecv,
                  static_cast<uint32_t>(frame.message_bytes), with_imm, with_imm ? frame.imm : 0);
  }
}

// The state of the frame's message; its first packet to land (in each attempt) runs
// the checks and takes the recv. Null: the message is over and this is a late copy.
SrdEndpoint::Inbound* SrdEndpoint::admit(const Frame& frame) {
  prune(frame.sender_head);
  if (frame.psn < pruned_below_) return nullptr;
  auto [it, fresh] = inbound_.try_emplace(frame.psn);
  Inbound& message = it->second;
  if (!fresh && frame.attempt < message.attempt) return nullptr;
  if (!fresh && frame.attempt == message.attempt) return &message;

  if (message.has_recv) recvs_.push_front(message.recv);
  message = Inbound{};
  message.attempt = frame.attempt;
  message.packets = sim().packets_for(frame.message_bytes);
  message.got.assign(message.packets, false);
  const auto opcode = static_cast<Opcode>(frame.opcode);
  if (opcode != Opcode::kSend && !remote_write_allowed(frame)) {
    message.refused = true;
    message.refusal = NakCode::kRemoteAccess;
    return &message;
  }
  if (consumes_recv(frame.opcode)) {
    if (recvs_.empty()) {
      message.refused = true;
      message.refusal = NakCode::kReceiverNotReady;
      return &message;
    }
    message.recv = recvs_.front();
    recvs_.pop_front();
    message.has_recv = true;
    if (opcode == Opcode::kSend) {
      if (const Status status = check_recv(message.recv, frame.message_bytes);
          status != Status::kSuccess) {
        message.has_recv = false;
        message.refused = true;
        message.refusal = nak_for_recv(status);
        complete_recv(message.recv, status, CompletionKind::kRecv, 0, false, 0);
      }
    }
  }
  return &message;
}

// Messages before the sender's oldest request are over for it: forget them, and give
// back a recv that an abandoned one had taken.
void SrdEndpoint::prune(uint64_t sender_head) {
  if (sender_head <= pruned_below_) return;
  pruned_below_ = sender_head;
  std::vector<RecvOp> returned;
  for (auto it = inbound_.begin(); it != inbound_.end() && it->first < sender_head;) {
    if (it->second.has_recv) returned.push_back(it->second.recv);
    it = inbound_.erase(it);
  }
  for (auto it = returned.rbegin(); it != returned.rend(); ++it) recvs_.push_front(*it);
}

void SrdEndpoint::refuse(Inbound& message, NakCode code, const Frame& about) {
  if (message.has_recv) {
    message.has_recv = false;
    complete_recv(message.recv, Status::kLocalProtectionError, CompletionKind::kRecv, 0, false, 0);
  }
  message.refused = true;
  message.refusal = code;
  reply(FrameKind::kNak, about, code);
}

void SrdEndpoint::on_read_request(const Frame& frame) {
  if (!remote_read_allowed(frame)) {
    reply(FrameKind::kNak, frame, NakCode::kRemoteAccess);
    return;
  }
  reply(FrameKind::kReadResponse, frame);
}

// An ACK, NAK or read response about `about`, on a path of its own.
void SrdEndpoint::reply(FrameKind kind, const Frame& about, NakCode nak) {
  uint32_t payload = 0;
  if (kind == FrameKind::kReadResponse) {
    payload = static_cast<uint32_t>(std::min(sim().packet_payload(), about.message_bytes - about.offset));
  }
  Frame* frame = new_payload_frame(kind, payload);
  frame->nak = nak;
  frame->psn = about.psn;
  frame->index = about.index;
  frame->attempt = about.attempt;
  frame->op_seq = about.op_seq;
  frame->sent_ns = about.sent_ns;
  frame->entropy = static_cast<uint16_t>(sim().network->draw(device.index, sim().config.srd_paths));
  if (kind == FrameKind::kReadResponse) {
    frame->offset = about.offset;
    frame->message_bytes = about.message_bytes;
    frame->remote_addr = about.remote_addr;
    frame->rkey = about.rkey;
  }
  control_.push_back(frame);
  wake();
}

}  // namespace ferry::sim
