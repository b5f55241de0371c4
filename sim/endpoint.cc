#include "sim/endpoint.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "sim/completion_queue.h"
#include "transport/provider_support/endpoint_address.h"
#include "transport/provider_support/work_request_checks.h"

namespace ferry::sim {
namespace {

constexpr uint32_t kInfiniteRnrRetry = 7;  // rnr_retry 7: retry forever, as in verbs

// The address blob: magic, version, kind, endpoint id, host, nic.
constexpr uint32_t kAddressMagic = 0x4d495346;  // "FSIM"

uint16_t entropy_of(uint32_t id) { return static_cast<uint16_t>((id * 2654435761u) >> 16); }

}  // namespace

SimEndpoint::SimEndpoint(SimProtectionDomain& pd, const EndpointConfig& config, uint32_t id)
    : device(pd.device), pd(pd), config_(config), id_(id), send_ring_(config.max_send_wr) {
  if (sim().config.congestion.enabled) {
    rate_.emplace(sim().config.congestion, device.attributes().link_gbps);
  }
}

SimEndpoint::~SimEndpoint() {
  release_urgent();
  sim().remove_endpoint(id_);
}

Frame* SimEndpoint::next_frame() {
  if (!urgent_.empty()) {
    Frame* frame = urgent_.front();
    urgent_.pop_front();
    return frame;
  }
  return build_next_frame();
}

void SimEndpoint::receive(const Frame& frame) {
  if (state_ == EndpointState::kError) return;  // an endpoint in error answers nothing
  if (frame.kind == FrameKind::kCnp) {
    on_cnp();
    return;
  }
  if (frame.ecn_marked && frame.kind == FrameKind::kData) notify_congestion();
  handle_frame(frame);
}

std::vector<uint8_t> SimEndpoint::address() const {
  return encode_address(kAddressMagic, config_.kind, id_, device.host, device.nic);
}

VoidResult SimEndpoint::connect(std::span<const uint8_t> peer_address) {
  if (state_ != EndpointState::kInit) {
    return make_error(ErrorCode::kFailedPrecondition,
                      std::string("connect() on an endpoint in state ") + to_string(state_));
  }
  Result<EndpointAddress> decoded = decode_address(peer_address, kAddressMagic, "sim", config_.kind);
  if (!decoded.ok()) return decoded.error();
  const EndpointAddress& blob = *decoded;
  const SimEndpoint* peer = sim().endpoint(blob.endpoint_id);
  if (peer == nullptr || peer->device.host != blob.place || peer->device.nic != blob.nic) {
    return make_error(ErrorCode::kNotFound,
                      "no sim endpoint " + std::to_string(blob.endpoint_id) + " on host " +
                          std::to_string(blob.place) + " nic " + std::to_string(blob.nic));
  }
  peer_id_ = blob.endpoint_id;
  peer_nic_ = peer->device.index;
  state_ = EndpointState::kReady;
  return {};
}

VoidResult SimEndpoint::post_send(std::span<const WorkRequest> requests, size_t* bad_index) {
  const DeviceAttributes& attr = device.attributes();
  if (state_ == EndpointState::kInit) {
    if (bad_index) *bad_index = 0;
    return make_error(ErrorCode::kFailedPrecondition, "post_send before connect()");
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const WorkRequest& wr = requests[i];
    auto refuse = [&](ErrorCode code, const std::string& message) -> VoidResult {
      if (bad_index) *bad_index = i;
      return make_error(code, "work request " + std::to_string(i) + ": " + message);
    };
    if (auto wrong = check_send_request(wr, attr, send_tail_ - send_head_, send_ring_.size())) {
      return refuse(wrong->code, wrong->message);
    }
    SendOp& op = op_at(send_tail_);
    op.request = wr;
    std::copy_n(wr.sg_list, wr.num_sge, op.sges);
    op.request.sg_list = op.sges;
    op.seq = send_tail_++;
    op.bytes = total_length(op.sges, wr.num_sge);
    op.packets = sim().packets_for(op.bytes);
    op.state = SendOp::State::kPosted;
    op.status = Status::kSuccess;
    op.started = false;
    op.rnr_attempts = 0;
    if (state_ == EndpointState::kError) {
      op.status = Status::kFlushed;
      report(op);
      retire();
    } else {
      on_posted(op);
    }
  }
  return {};
}

VoidResult SimEndpoint::post_recv(std::span<const RecvRequest> requests, size_t* bad_index) {
  const uint32_t max_sge = device.attributes().max_sge;
  if (state_ == EndpointState::kInit && !requests.empty()) {
    if (bad_index) *bad_index = 0;  // as verbs refuses recvs on a queue pair in reset
    return make_error(ErrorCode::kFailedPrecondition, "post_recv before connect()");
  }
  VoidResult result;
  for (size_t i = 0; i < requests.size(); ++i) {
    const RecvRequest& rr = requests[i];
    if (rr.num_sge > max_sge || (rr.num_sge > 0 && rr.sg_list == nullptr)) {
      if (bad_index) *bad_index = i;
      result = make_error(ErrorCode::kInvalidArgument,
                          "recv request " + std::to_string(i) + ": " + std::to_string(rr.num_sge) +
                              " scatter-gather entries, the device takes at most " +
                              std::to_string(max_sge));
      break;
    }
    if (recvs_.size() >= config_.max_recv_wr) {
      if (bad_index) *bad_index = i;
      result = make_error(ErrorCode::kResourceExhausted,
                          "recv queue full (" + std::to_string(config_.max_recv_wr) + " posted)");
      break;
    }
    RecvOp& recv = recvs_.emplace_back();
    recv.cookie = rr.cookie;
    recv.num_sge = rr.num_sge;
    std::copy_n(rr.sg_list, rr.num_sge, recv.sges);
  }
  if (state_ == EndpointState::kError) flush_recvs();
  return result;
}

void SimEndpoint::set_error() { enter_error(); }

const SendOp* SimEndpoint::find_op(uint64_t seq) const {
  if (seq < send_head_ || seq >= send_tail_) return nullptr;
  const SendOp& op = send_ring_[seq % send_ring_.size()];
  return op.seq == seq && op.state == SendOp::State::kPosted ? &op : nullptr;
}

SendOp* SimEndpoint::active_op(uint64_t seq) {
  if (seq < send_head_ || seq >= send_tail_) return nullptr;
  SendOp& op = op_at(seq);
  const bool active = op.state == SendOp::State::kPosted || op.state == SendOp::State::kFailed;
  return op.seq == seq && active ? &op : nullptr;
}

MemoryList SimEndpoint::source_list(const SendOp& op) const {
  return MemoryList{&device.keys, pd.id, op.sges, op.request.num_sge, 0};
}

MemoryList SimEndpoint::local_list(const SendOp& op) const {
  // A read's list receives data: it needs local write. Local read is always granted.
  const uint32_t needed = op.request.opcode == Opcode::kRead ? uint32_t{kAccessLocalWrite} : 0u;
  return MemoryList{&device.keys, pd.id, op.sges, op.request.num_sge, needed};
}

MemoryList SimEndpoint::recv_list(const RecvOp& recv) const {
  return MemoryList{&device.keys, pd.id, recv.sges, recv.num_sge, kAccessLocalWrite};
}

const SimEndpoint* SimEndpoint::peer_endpoint(uint32_t id) const { return sim().endpoint(id); }

Status SimEndpoint::check_local(const SendOp& op) const {
  if (!allowed(local_list(op), 0, 0)) return Status::kLocalProtectionError;
  if (op.bytes > device.attributes().max_message_bytes) return Status::kLocalLengthError;
  return Status::kSuccess;
}

bool SimEndpoint::may_retry_rnr(const SendOp& op) const {
  return config_.rnr_retry == kInfiniteRnrRetry || op.rnr_attempts < config_.rnr_retry;
}

bool SimEndpoint::remote_write_allowed(const Frame& frame) const {
  return frame.message_bytes == 0 ||
         device.keys.allows(pd.id, frame.rkey, frame.remote_addr, frame.message_bytes,
                            kAccessRemoteWrite);
}

bool SimEndpoint::remote_read_allowed(const Frame& frame) const {
  return frame.message_bytes == 0 ||
         device.keys.allows(pd.id, frame.rkey, frame.remote_addr, frame.message_bytes,
                            kAccessRemoteRead);
}

Status SimEndpoint::check_recv(const RecvOp& recv, uint64_t bytes) const {
  if (!allowed(recv_list(recv), 0, 0)) return Status::kLocalProtectionError;
  if (total_length(recv.sges, recv.num_sge) < bytes) return Status::kLocalLengthError;
  return Status::kSuccess;
}

SimEndpoint::Placement SimEndpoint::place_payload(const Frame& frame, const RecvOp* recv) {
  if (frame.payload_bytes == 0) return Placement::kPlaced;
  // Nothing to copy from: the requester is gone, or deregistered its source (it finds
  // out when it sends again). The packet is dropped, as if lost.
  const SimEndpoint* requester = peer_endpoint(frame.src_endpoint);
  const SendOp* source = requester != nullptr ? requester->find_op(frame.op_seq) : nullptr;
  if (source == nullptr) return Placement::kNoSource;
  const MemoryList src = requester->source_list(*source);
  if (!allowed(src, frame.offset, frame.payload_bytes)) return Placement::kNoSource;
  // Checked per packet as well as per message: a region deregistered mid-message stops it.
  Sge remote{frame.remote_addr + frame.offset, frame.payload_bytes, frame.rkey};
  MemoryList dst{&device.keys, pd.id, &remote, 1, kAccessRemoteWrite};
  uint64_t dst_offset = 0;
  if (recv != nullptr) {
    dst = recv_list(*recv);
    dst_offset = frame.offset;
  }
  if (!allowed(dst, dst_offset, frame.payload_bytes)) return Placement::kRefused;
  // A failed GPU copy (memory freed while registered) refuses the packet like a bad key.
  if (!copy(src, frame.offset, dst, dst_offset, frame.payload_bytes)) return Placement::kRefused;
  return Placement::kPlaced;
}

SimEndpoint::Placement SimEndpoint::place_read_response(const SendOp& op, const Frame& frame,
                                                        Status* status) {
  const SimEndpoint* responder = peer_endpoint(frame.src_endpoint);
  if (responder == nullptr) return Placement::kNoSource;
  Sge remote{frame.remote_addr + frame.offset, frame.payload_bytes, frame.rkey};
  const MemoryList src{&responder->device.keys, responder->pd.id, &remote, 1, kAccessRemoteRead};
  const MemoryList dst = local_list(op);
  if (!allowed(src, 0, 0)) {
    *status = Status::kRemoteAccessError;
    return Placement::kRefused;
  }
  if (!allowed(dst, frame.offset, frame.payload_bytes)) {
    *status = Status::kLocalProtectionError;
    return Placement::kRefused;
  }
  if (!copy(src, 0, dst, frame.offset, frame.payload_bytes)) {
    *status = Status::kLocalProtectionError;
    return Placement::kRefused;
  }
  return Placement::kPlaced;
}

void SimEndpoint::report(SendOp& op) {
  op.state = SendOp::State::kDone;
  if (!op.request.signaled && op.status == Status::kSuccess) return;
  Completion completion;
  completion.cookie = op.request.cookie;
  completion.status = op.status;
  completion.kind = local_kind(op.request.opcode);
  completion.byte_len = static_cast<uint32_t>(op.bytes);
  completion.endpoint_id = id_;
  push_completion(config_.send_cq, completion);
}

void SimEndpoint::retire() {
  while (send_head_ < send_tail_ && op_at(send_head_).state == SendOp::State::kDone) {
    SendOp& op = op_at(send_head_);
    op.state = SendOp::State::kFree;
    op.acked.clear();
    ++send_head_;
  }
}

void SimEndpoint::complete_recv(const RecvOp& recv, Status status, CompletionKind kind,
                                uint32_t byte_len, bool has_imm, uint32_t imm) {
  Completion completion;
  completion.cookie = recv.cookie;
  completion.status = status;
  completion.kind = kind;
  completion.byte_len = byte_len;
  completion.has_imm = has_imm;
  completion.imm = imm;
  completion.endpoint_id = id_;
  push_completion(config_.recv_cq, completion);
}

void SimEndpoint::enter_error() {
  if (state_ == EndpointState::kError) return;
  state_ = EndpointState::kError;
  disarm_timer();
  release_urgent();
  on_error();
  for (uint64_t seq = send_head_; seq < send_tail_; ++seq) {
    SendOp& op = op_at(seq);
    if (op.state == SendOp::State::kDone || op.state == SendOp::State::kFree) continue;
    if (op.state != SendOp::State::kFailed) op.status = Status::kFlushed;
    report(op);
  }
  retire();
  flush_recvs();
}

void SimEndpoint::flush_recvs() {
  while (!recvs_.empty()) {
    const RecvOp recv = recvs_.front();
    recvs_.pop_front();
    complete_recv(recv, Status::kFlushed, CompletionKind::kRecv, 0, false, 0);
  }
}

void SimEndpoint::push_completion(CompletionQueue* cq, const Completion& completion) {
  sim().record(TraceRecord{sim().now_ns(), device.host, device.nic, id_, completion.cookie,
                           completion.kind, completion.status, completion.byte_len,
                           completion.imm});
  if (!static_cast<SimCompletionQueue*>(cq)->push(completion)) {
    // Overflow: the queue reports it from every poll; an endpoint that can no longer
    // report its work stops, as a QP on an overflowed CQ does.
    enter_error();
  }
}

Frame* SimEndpoint::new_frame(FrameKind kind) {
  Frame* frame = sim().frames.get();
  frame->kind = kind;
  frame->entropy = entropy_of(id_);
  frame->src_nic = device.index;
  frame->dst_nic = peer_nic_;
  frame->src_endpoint = id_;
  frame->dst_endpoint = peer_id_;
  frame->wire_bytes = sim().wire_bytes(0);
  return frame;
}

Frame* SimEndpoint::new_payload_frame(FrameKind kind, uint32_t payload) {
  Frame* frame = new_frame(kind);
  frame->payload_bytes = payload;
  frame->wire_bytes = sim().wire_bytes(payload);
  frame->frames = sim().frames_for(payload);
  return frame;
}

// ---------------------------------------------------------------------------------
// Congestion control

// At most one CNP per cnp_interval_ns, to the peer whose data was marked.
void SimEndpoint::notify_congestion() {
  const uint64_t now = sim().now_ns();
  if (sent_cnp_ && now - last_cnp_ns_ < sim().config.congestion.cnp_interval_ns) return;
  sent_cnp_ = true;
  last_cnp_ns_ = now;
  ++sim().counters.cnps_sent;
  urgent_.push_back(new_frame(FrameKind::kCnp));
  wake();
}

void SimEndpoint::on_cnp() {
  if (!rate_) return;
  rate_->on_cnp(sim().now_ns());
  schedule_rate_timer();
}

void SimEndpoint::schedule_rate_timer() {
  if (rate_timer_pending_ || !rate_->recovering()) return;
  rate_timer_pending_ = true;
  SimulationImpl* simulation = &sim();
  const uint32_t id = id_;
  sim().network->schedule(sim().now_ns() + sim().config.congestion.rate_increase_timer_ns,
                          [simulation, id] {
                            SimEndpoint* endpoint = simulation->endpoint(id);
                            if (endpoint == nullptr) return;
                            endpoint->rate_timer_pending_ = false;
                            endpoint->rate_->on_timer();
                            endpoint->schedule_rate_timer();
                            endpoint->wake();
                          });
}

// At line rate the link paces; below it, packets leave wire_bytes / rate apart.
bool SimEndpoint::pacing_allows() {
  if (!rate_ || !rate_->recovering()) return true;
  const uint64_t now = sim().now_ns();
  if (static_cast<double>(now) >= next_send_ns_) return true;
  const auto at = static_cast<uint64_t>(std::ceil(next_send_ns_));
  if (pace_wake_at_ != at) {
    pace_wake_at_ = at;
    SimulationImpl* simulation = &sim();
    const uint32_t id = id_;
    sim().network->schedule(at, [simulation, id, at] {
      SimEndpoint* endpoint = simulation->endpoint(id);
      if (endpoint == nullptr || endpoint->pace_wake_at_ != at) return;
      endpoint->pace_wake_at_ = kNever;
      endpoint->wake();
    });
  }
  return false;
}

void SimEndpoint::paced(uint32_t wire_bytes) {
  if (!rate_) return;
  const auto now = static_cast<double>(sim().now_ns());
  if (!rate_->recovering()) {
    next_send_ns_ = now;
    return;
  }
  next_send_ns_ = std::max(now, next_send_ns_) + wire_bytes * 8 / rate_->gbps();
  rate_->on_sent(wire_bytes);
}

void SimEndpoint::release_urgent() {
  for (Frame* frame : urgent_) sim().frames.put(frame);
  urgent_.clear();
}

void SimEndpoint::arm_timer(uint64_t at_ns) {
  deadline_ = at_ns;
  if (timer_event_at_ <= at_ns) return;  // an earlier event is pending; it re-arms
  timer_event_at_ = at_ns;
  SimulationImpl* simulation = &sim();
  const uint32_t id = id_;
  sim().network->schedule(at_ns, [simulation, id, at_ns] {
    if (SimEndpoint* endpoint = simulation->endpoint(id)) endpoint->on_timer_event(at_ns);
  });
}

void SimEndpoint::on_timer_event(uint64_t at_ns) {
  if (at_ns != timer_event_at_) return;  // superseded by an earlier event
  timer_event_at_ = kNever;
  if (deadline_ == kNever) return;
  if (sim().now_ns() < deadline_) {
    arm_timer(deadline_);
    return;
  }
  deadline_ = kNever;
  on_timeout();
}

}  // namespace ferry::sim
