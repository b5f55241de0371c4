// Endpoints (queue pairs) of the emulator: posting, delivery with hardware checks,
// retries, ordering and the error state.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "emu/internal.h"
#include "transport/provider_support/endpoint_address.h"
#include "transport/provider_support/work_request_checks.h"

namespace ferry::emu {
namespace {

// The address blob: magic, version, kind, endpoint id, node, nic.
constexpr uint32_t kAddressMagic = 0x554d4546;  // "FEMU"

constexpr uint32_t kInfiniteRnrRetry = 7;

uint64_t total_length(const Sge* sges, uint32_t n) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < n; ++i) total += sges[i].length;
  return total;
}

// Checks a scatter-gather list against a device's keys: every entry must name a live
// region of the domain that covers it and grants `needed`.
bool list_allowed(const EmuDevice& device, uint32_t pd_id, const Sge* sges, uint32_t n,
                  uint32_t needed) {
  for (uint32_t i = 0; i < n; ++i) {
    if (sges[i].length == 0) continue;
    if (!device.keys.allows(pd_id, sges[i].lkey, sges[i].addr, sges[i].length, needed)) return false;
  }
  return true;
}

// One copy from a list of source pieces to a list of destination pieces, like DMA
// (provider_support/dma_copy.h: host memory, or GPU memory once the fabric has some).
// False when a GPU copy failed (memory freed while registered).
bool scatter_copy(const Sge* src, uint32_t num_src, const Sge* dst, uint32_t num_dst, uint64_t bytes, bool gpu) {
  uint32_t si = 0, di = 0;
  uint64_t so = 0, doff = 0;
  while (bytes > 0 && si < num_src && di < num_dst) {
    const uint64_t src_left = src[si].length - so;
    const uint64_t dst_left = dst[di].length - doff;
    const uint64_t n = std::min({src_left, dst_left, bytes});
    if (n > 0 && !dma_copy(reinterpret_cast<void*>(dst[di].addr + doff),
                           reinterpret_cast<const void*>(src[si].addr + so), n, gpu)) {
      return false;
    }
    so += n;
    doff += n;
    bytes -= n;
    if (so == src[si].length) ++si, so = 0;
    if (doff == dst[di].length) ++di, doff = 0;
  }
  return true;
}

// Payload on two NICs' wire counters: sent by `from`, received by `to` (null: nobody).
void count_bytes(EmuDevice& from, EmuDevice* to, uint64_t bytes, uint64_t mtu) {
  const uint64_t packets = std::max<uint64_t>(1, (bytes + mtu - 1) / mtu);
  from.tx_bytes.fetch_add(bytes, std::memory_order_relaxed);
  from.tx_packets.fetch_add(packets, std::memory_order_relaxed);
  if (to == nullptr) return;
  to->rx_bytes.fetch_add(bytes, std::memory_order_relaxed);
  to->rx_packets.fetch_add(packets, std::memory_order_relaxed);
}

}  // namespace

EmuEndpoint::EmuEndpoint(EmuProtectionDomain& pd, const EndpointConfig& config, uint32_t id)
    : device(pd.device),
      pd(pd),
      fabric_(pd.device.fabric),
      config_(config),
      id_(id),
      send_queue_(config.max_send_wr),
      recv_queue_(config.max_recv_wr) {
  wire_.endpoint_id = id;
}

EmuEndpoint::~EmuEndpoint() {
  std::unique_lock lock(fabric_.tables);
  wire_stop_locked();  // the ports it shared go to the others
  fabric_.remove_endpoint(id_);
}

Result<std::unique_ptr<Endpoint>> EmuProtectionDomain::create_endpoint(const EndpointConfig& config) {
  const DeviceAttributes& attr = device.attributes();
  if (config.send_cq == nullptr || config.recv_cq == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "an endpoint needs a send and a recv completion queue");
  }
  if (dynamic_cast<EmuCompletionQueue*>(config.send_cq) == nullptr ||
      dynamic_cast<EmuCompletionQueue*>(config.recv_cq) == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "completion queues must come from an emu device");
  }
  if (config.kind == EndpointKind::kRc && !attr.ordered) {
    return make_error(ErrorCode::kUnsupported, attr.name + " offers no RC endpoints");
  }
  if (config.kind == EndpointKind::kSrd && !attr.unordered) {
    return make_error(ErrorCode::kUnsupported, attr.name + " offers no SRD endpoints");
  }
  if (config.max_send_wr == 0 || config.max_send_wr > attr.max_send_wr ||
      config.max_recv_wr == 0 || config.max_recv_wr > attr.max_recv_wr) {
    return make_error(ErrorCode::kOutOfRange,
                      "max_send_wr must be in [1, " + std::to_string(attr.max_send_wr) +
                          "] and max_recv_wr in [1, " + std::to_string(attr.max_recv_wr) + "]");
  }
  if (device.dead.load()) return make_error(ErrorCode::kUnavailable, attr.name + " is dead");
  std::unique_lock lock(device.fabric.tables);
  const uint32_t id = device.fabric.add_endpoint(nullptr);
  auto endpoint = std::make_unique<EmuEndpoint>(*this, config, id);
  device.fabric.set_endpoint(id, endpoint.get());
  return std::unique_ptr<Endpoint>(std::move(endpoint));
}

std::vector<uint8_t> EmuEndpoint::address() const {
  return encode_address(kAddressMagic, config_.kind, id_, device.node, device.nic);
}

VoidResult EmuEndpoint::connect(std::span<const uint8_t> peer_address) {
  if (state() != EndpointState::kInit) {
    return make_error(ErrorCode::kFailedPrecondition,
                      std::string("connect() on an endpoint in state ") + to_string(state()));
  }
  Result<EndpointAddress> decoded = decode_address(peer_address, kAddressMagic, "emu", config_.kind);
  if (!decoded.ok()) return decoded.error();
  const EndpointAddress& blob = *decoded;
  std::shared_lock lock(fabric_.tables);
  EmuEndpoint* peer = fabric_.endpoint(blob.endpoint_id);
  if (peer == nullptr || peer->device.node != blob.place || peer->device.nic != blob.nic) {
    return make_error(ErrorCode::kNotFound,
                      "no emu endpoint " + std::to_string(blob.endpoint_id) + " on node " +
                          std::to_string(blob.place) + " nic " + std::to_string(blob.nic));
  }
  peer_id_ = blob.endpoint_id;
  EndpointState expected = EndpointState::kInit;
  state_.compare_exchange_strong(expected, EndpointState::kReady);
  return {};
}

VoidResult EmuEndpoint::post_send(std::span<const WorkRequest> requests, size_t* bad_index) {
  const DeviceAttributes& attr = device.attributes();
  std::shared_lock tables(fabric_.tables);
  std::lock_guard lock(send_mutex_);
  if (state() == EndpointState::kInit) {
    if (bad_index) *bad_index = 0;
    return make_error(ErrorCode::kFailedPrecondition, "post_send before connect()");
  }
  const uint64_t first_new = send_tail_;
  for (size_t i = 0; i < requests.size(); ++i) {
    const WorkRequest& wr = requests[i];
    auto refuse = [&](ErrorCode code, std::string message) -> VoidResult {
      if (bad_index) *bad_index = i;
      if (fabric_.deterministic()) wire_next_locked();  // what was posted before still runs
      deliver_ready_locked(first_new);
      return make_error(code, "work request " + std::to_string(i) + ": " + message);
    };
    if (auto wrong = check_send_request(wr, attr, send_tail_ - send_head_, send_queue_.size())) {
      return refuse(wrong->code, std::move(wrong->message));
    }
    if (device.config.efa_constraints && !wr.signaled) {
      return refuse(ErrorCode::kUnsupported, attr.name + " (EFA) needs every work request signalled");
    }
    SendOp& op = op_at(send_tail_);
    op.request = wr;
    std::copy_n(wr.sg_list, wr.num_sge, op.sges);
    op.request.sg_list = op.sges;
    op.seq = send_tail_++;
    op.bytes = total_length(op.sges, wr.num_sge);
    op.status = Status::kSuccess;
    op.rnr_attempts = 0;
    op.retry_attempts = 0;
    if (fabric_.deterministic() && state() != EndpointState::kError) {
      op.state = OpState::kQueued;
      op.extra_delay_ns = extra_delay_locked(op);
    } else {
      op.state = OpState::kArrived;
    }
  }
  if (fabric_.deterministic()) wire_next_locked();
  deliver_ready_locked(first_new);
  return {};
}

// Deterministic mode, at post: the delay an operation adds to its arrival beyond the
// wire, drawn in posting order so that the seed fixes it: retransmissions after loss and,
// for SRD, a random extra delay that reorders operations.
uint64_t EmuEndpoint::extra_delay_locked(const SendOp& op) {
  const FabricConfig& cfg = fabric_.config;
  const double gbps = device.config.link_gbps;
  const auto serialise = [gbps](uint64_t bytes) {
    return static_cast<uint64_t>(std::ceil(static_cast<double>(bytes) * 8.0 / gbps));
  };
  uint64_t delay = 0;
  double loss = device.loss_probability.load();
  const EmuEndpoint* peer = fabric_.endpoint(peer_id_);
  if (peer != nullptr) loss = 1.0 - (1.0 - loss) * (1.0 - peer->device.loss_probability.load());
  if (loss > 0) {
    const uint64_t mtu = device.config.mtu;
    const uint64_t packets = std::max<uint64_t>(1, (op.bytes + mtu - 1) / mtu);
    uint64_t lost = 0;
    for (uint64_t p = 0; p < packets; ++p) lost += fabric_.rng.chance(loss) ? 1 : 0;
    device.retransmitted_packets.fetch_add(lost, std::memory_order_relaxed);
    if (lost > 0) {
      const uint64_t rtt = 2 * cfg.propagation_delay_ns;
      const uint64_t packet_time = std::max<uint64_t>(1, serialise(mtu));
      if (config_.kind == EndpointKind::kRc) {
        // Go-back-N: each loss costs a round trip and resending what was in flight.
        const uint64_t in_flight = std::min(packets, rtt / packet_time + 1);
        delay += lost * (rtt + in_flight * packet_time);
      } else {
        // Selective: one round trip, plus resending only what was lost.
        delay += rtt + lost * packet_time;
      }
    }
  }
  if (config_.kind == EndpointKind::kSrd) delay += fabric_.rng.below(cfg.srd_reorder_window_ns);
  return delay;
}

// Deterministic mode: puts the next posted operation on the wire, from the NIC its data
// leaves (the target's for a read) to the NIC it enters, once the one before it is off.
// The flow moves straight from one operation to the next, so that the ports it keeps
// are not shared out in between; it leaves the wire when nothing is left to send.
void EmuEndpoint::wire_next_locked() {
  if (wire_busy_) return;
  while (wire_next_ < send_tail_) {
    const SendOp& op = op_at(wire_next_);
    if (op.state != OpState::kQueued) {  // flushed
      ++wire_next_;
      continue;
    }
    EmuEndpoint* peer = fabric_.endpoint(peer_id_);
    const bool read = op.request.opcode == Opcode::kRead;
    EmuDevice* from = read ? (peer ? &peer->device : nullptr) : &device;
    EmuDevice* to = read ? &device : (peer ? &peer->device : nullptr);
    if (op.bytes == 0 || from == nullptr) {  // nothing to carry, or nobody to carry it
      wire_done_locked();
      continue;
    }
    wire_from_ = from;
    wire_to_ = to;
    wire_start(wire_, from->tx_port, to ? &to->rx_port : nullptr, op.bytes, fabric_.now_ns(),
               fabric_.on_wire_change());
    wire_busy_ = true;
    return;
  }
  wire_stop_locked();
}

// Deterministic mode: the operation at wire_next_ has left the wire (or had nothing to
// put on it). It reaches the target after processing and flight; RC arrivals on one
// endpoint never overtake each other.
void EmuEndpoint::wire_done_locked() {
  const FabricConfig& cfg = fabric_.config;
  SendOp& op = op_at(wire_next_++);
  if (wire_busy_) {
    count_bytes(*wire_from_, wire_to_, op.bytes, device.config.mtu);
    wire_.bytes = 0;  // counted: its port must not count it as partly sent too
    wire_busy_ = false;
  }
  uint64_t arrival = fabric_.now_ns() + cfg.nic_processing_ns + cfg.propagation_delay_ns + op.extra_delay_ns;
  if (config_.kind == EndpointKind::kRc) {
    arrival = std::max(arrival, last_arrival_ns_);
    last_arrival_ns_ = arrival;
  }
  fabric_.schedule(arrival, EventKind::kArrive, id_, op.seq);
}

// Takes the flow off the wire (nothing left, flush, destruction); what it sent of an
// operation cut short is counted.
void EmuEndpoint::wire_stop_locked() {
  if (!wire_.on_wire()) return;
  const uint64_t sent = wire_busy_ ? wire_.bytes_sent(fabric_.now_ns()) : 0;
  wire_stop(wire_, fabric_.now_ns(), fabric_.on_wire_change());
  wire_busy_ = false;
  if (sent > 0) count_bytes(*wire_from_, wire_to_, sent, device.config.mtu);
}

VoidResult EmuEndpoint::post_recv(std::span<const RecvRequest> requests, size_t* bad_index) {
  const uint32_t max_sge = device.attributes().max_sge;
  if (state() == EndpointState::kInit) {
    // As verbs refuses receives on a queue pair still in its reset state.
    if (bad_index) *bad_index = 0;
    return make_error(ErrorCode::kFailedPrecondition, "post_recv before connect()");
  }
  VoidResult result;
  {
    std::lock_guard lock(recv_mutex_);
    for (size_t i = 0; i < requests.size(); ++i) {
      const RecvRequest& rr = requests[i];
      if (rr.num_sge > max_sge || (rr.num_sge > 0 && rr.sg_list == nullptr)) {
        if (bad_index) *bad_index = i;
        result = make_error(ErrorCode::kInvalidArgument,
                            "recv request " + std::to_string(i) + ": " +
                                std::to_string(rr.num_sge) +
                                " scatter-gather entries, the device takes at most " +
                                std::to_string(max_sge));
        break;
      }
      if (recv_tail_ - recv_head_ >= recv_queue_.size()) {
        if (bad_index) *bad_index = i;
        result = make_error(ErrorCode::kResourceExhausted,
                            "recv queue full (" + std::to_string(recv_queue_.size()) + " posted)");
        break;
      }
      RecvOp& slot = recv_queue_[recv_tail_++ % recv_queue_.size()];
      slot.cookie = rr.cookie;
      slot.num_sge = rr.num_sge;
      std::copy_n(rr.sg_list, rr.num_sge, slot.sges);
    }
  }
  // On an endpoint in the error state, whatever was posted flushes at once.
  if (state() == EndpointState::kError) flush_recvs();
  return result;
}

void EmuEndpoint::set_error() {
  std::shared_lock tables(fabric_.tables);
  std::lock_guard lock(send_mutex_);
  state_.store(EndpointState::kError, std::memory_order_release);
  halted_ = true;
  flush_locked();
  flush_recvs();
}

void EmuEndpoint::request_error(bool silent) {
  if (silent) silent_.store(true);
  state_.store(EndpointState::kError, std::memory_order_release);
  flush_recvs();
  fabric_.schedule(fabric_.now_ns(), EventKind::kPump, id_, 0);
}

bool EmuEndpoint::peer_reachable() const {
  return !device.dead.load() && device.link_up.load() &&
         !fabric_.nodes[device.node]->vanished.load() && state() == EndpointState::kReady;
}

void EmuEndpoint::on_event(const Event& event) {
  std::lock_guard lock(send_mutex_);
  if (event.kind == EventKind::kPump) {
    deliver_ready_locked(send_head_);
    return;
  }
  if (event.kind == EventKind::kWire) {
    if (!wire_finishes(event.op_seq)) return;  // its rate changed since
    wire_done_locked();
    wire_next_locked();
    return;
  }
  SendOp& op = op_at(event.op_seq);
  if (op.seq != event.op_seq) return;  // flushed and reused since
  if (event.kind == EventKind::kArrive && op.state == OpState::kQueued) {
    op.state = OpState::kArrived;
    if (state() == EndpointState::kError) {
      flush_locked();
    } else if (config_.kind == EndpointKind::kRc) {
      deliver_ready_locked(send_head_);
    } else {
      run_op_locked(op);
    }
  } else if (event.kind == EventKind::kAck && op.state == OpState::kDelivered) {
    complete_locked(op);
  }
}

// Runs what may run now: RC in posting order from the first undelivered operation,
// stopping at one that must wait; SRD every arrived operation from `from` on.
void EmuEndpoint::deliver_ready_locked(uint64_t from) {
  if (state() == EndpointState::kError) {
    flush_locked();
    return;
  }
  const bool ordered = config_.kind == EndpointKind::kRc;
  for (uint64_t seq = ordered ? send_deliver_ : std::max(from, send_head_);
       seq < send_tail_ && !halted_; ++seq) {
    SendOp& op = op_at(seq);
    if (op.state != OpState::kArrived || !run_op_locked(op)) {
      if (ordered) break;
      continue;
    }
    if (ordered) send_deliver_ = seq + 1;
    if (state() == EndpointState::kError) return;  // finishing flushed the queue
  }
}

// One attempt at an arrived operation; false when it must wait for a retry.
bool EmuEndpoint::run_op_locked(SendOp& op) {
  uint64_t retry_at = 0;
  if (attempt_locked(op, &retry_at) == Attempt::kRetryLater) {
    op.state = OpState::kQueued;
    fabric_.schedule(retry_at, EventKind::kArrive, id_, op.seq);
    return false;
  }
  op.state = OpState::kDelivered;
  if (op.status == Status::kSuccess) {
    if (!fabric_.deterministic()) count_on_wire_locked(op);  // deterministic: counted on the wire
    if (op.request.opcode != Opcode::kRead) {
      if (config_.kind == EndpointKind::kSrd && take_one(device.srd_duplicates)) deliver_again_locked(op);
      // It landed, but the initiator never hears so: the ambiguous failure.
      if (take_one(device.acks_to_lose)) op.status = Status::kRetryExceeded;
    }
  }
  if (op.status != Status::kSuccess && config_.kind == EndpointKind::kRc) halted_ = true;
  finish_locked(op);
  return true;
}

// A delivered operation's payload on the two NICs' wire counters (a read's data flows
// from the target back to this NIC).
void EmuEndpoint::count_on_wire_locked(const SendOp& op) {
  const EmuEndpoint* peer = fabric_.endpoint(peer_id_);
  if (peer == nullptr) return;
  const bool read = op.request.opcode == Opcode::kRead;
  count_bytes(read ? peer->device : device, read ? &device : &peer->device, op.bytes, device.config.mtu);
}

bool EmuEndpoint::take_one(std::atomic<uint32_t>& budget) {
  uint32_t left = budget.load();
  while (left > 0 && !budget.compare_exchange_weak(left, left - 1)) {
  }
  return left > 0;
}

// A second copy of a delivered SRD operation at the target (Fabric::duplicate_srd).
void EmuEndpoint::deliver_again_locked(const SendOp& op) {
  EmuEndpoint* peer = fabric_.endpoint(peer_id_);
  if (peer == nullptr || !peer->peer_reachable()) return;
  const WorkRequest& wr = op.request;
  Sge remote{wr.remote_addr, static_cast<uint32_t>(op.bytes), wr.rkey};
  count_on_wire_locked(op);
  if (wr.opcode == Opcode::kWrite) {
    scatter_copy(op.sges, wr.num_sge, &remote, 1, op.bytes, gpu_memory());
    return;
  }
  // With no recv posted the copy is dropped, as a receiver would drop it.
  peer->take_recv_and_fill(op.sges, wr.num_sge, op.bytes, wr.opcode == Opcode::kWriteWithImm ? &remote : nullptr,
                           wr.imm);
}

bool EmuEndpoint::gpu_memory() const { return fabric_.gpu_regions.load(std::memory_order_relaxed) > 0; }

// The completion goes back after the acknowledgement's flight time (deterministic
// mode) or at once (fast mode). Same delay for all, so RC completions stay in order.
void EmuEndpoint::finish_locked(SendOp& op) {
  if (fabric_.deterministic()) {
    fabric_.schedule(fabric_.now_ns() + fabric_.config.propagation_delay_ns, EventKind::kAck,
                     id_, op.seq);
  } else {
    complete_locked(op);
  }
}

Status EmuEndpoint::check_local_locked(const SendOp& op) const {
  const uint32_t needed = op.request.opcode == Opcode::kRead ? uint32_t{kAccessLocalWrite} : 0u;
  if (!list_allowed(device, pd.id, op.sges, op.request.num_sge, needed)) {
    return Status::kLocalProtectionError;
  }
  if (op.bytes > device.attributes().max_message_bytes) return Status::kLocalLengthError;
  return Status::kSuccess;
}

EmuEndpoint::Attempt EmuEndpoint::attempt_locked(SendOp& op, uint64_t* retry_at) {
  op.status = check_local_locked(op);
  if (op.status != Status::kSuccess) return Attempt::kFailed;

  // Nobody answers: retry after the transport timeout, then give up.
  EmuEndpoint* peer = fabric_.endpoint(peer_id_);
  if (peer == nullptr || !peer->peer_reachable() || !device.link_up.load() || device.dead.load()) {
    if (fabric_.deterministic() && op.retry_attempts < config_.retry_count) {
      ++op.retry_attempts;
      *retry_at = fabric_.now_ns() + config_.retry_timeout_ns;
      return Attempt::kRetryLater;
    }
    op.status = Status::kRetryExceeded;
    return Attempt::kFailed;
  }

  const WorkRequest& wr = op.request;
  const bool two_sided = wr.opcode == Opcode::kSend || wr.opcode == Opcode::kWriteWithImm;
  // Write, write-with-imm and read name one contiguous range of the peer's memory, checked
  // before anything else happens at the target.
  Sge remote{wr.remote_addr, static_cast<uint32_t>(op.bytes), wr.rkey};
  if (wr.opcode != Opcode::kSend && op.bytes > 0) {
    const uint32_t needed = wr.opcode == Opcode::kRead ? kAccessRemoteRead : kAccessRemoteWrite;
    if (!peer->device.keys.allows(peer->pd.id, wr.rkey, wr.remote_addr, op.bytes, needed)) {
      op.status = Status::kRemoteAccessError;
      if (config_.kind == EndpointKind::kRc) peer->request_error(false);
      return Attempt::kFailed;
    }
  }
  if (!two_sided) {
    const bool copied = wr.opcode == Opcode::kRead
                            ? scatter_copy(&remote, 1, op.sges, wr.num_sge, op.bytes, gpu_memory())
                            : scatter_copy(op.sges, wr.num_sge, &remote, 1, op.bytes, gpu_memory());
    op.status = copied ? Status::kSuccess : Status::kLocalProtectionError;
    return Attempt::kDelivered;
  }

  const bool with_imm = wr.opcode == Opcode::kWriteWithImm;
  switch (peer->take_recv_and_fill(op.sges, wr.num_sge, op.bytes, with_imm ? &remote : nullptr,
                                   wr.imm)) {
    case RecvOutcome::kTaken:
      op.status = Status::kSuccess;
      return Attempt::kDelivered;
    case RecvOutcome::kNone:
      if (config_.rnr_retry == kInfiniteRnrRetry || op.rnr_attempts < config_.rnr_retry) {
        ++op.rnr_attempts;
        *retry_at = fabric_.now_ns() + config_.rnr_timer_ns;
        return Attempt::kRetryLater;
      }
      op.status = Status::kRnrRetryExceeded;
      return Attempt::kFailed;
    case RecvOutcome::kLengthError:
      // As an RC responder does: a NAK "invalid request" (rxe: RESPST_ERR_LENGTH).
      op.status = Status::kRemoteInvalidRequest;
      break;
    case RecvOutcome::kProtectionError:
      op.status = Status::kRemoteOperationError;
      break;
  }
  if (config_.kind == EndpointKind::kRc) peer->request_error(false);
  return Attempt::kFailed;
}

// The target's side of a send or a write-with-imm: takes the next posted recv, places
// the data, and only then reports the completion, so a target that sees it may read the
// data.
EmuEndpoint::RecvOutcome EmuEndpoint::take_recv_and_fill(const Sge* src, uint32_t num_src,
                                                         uint64_t bytes, const Sge* write_target,
                                                         uint32_t imm) {
  Completion completion;
  RecvOutcome outcome = RecvOutcome::kTaken;
  {
    std::lock_guard lock(recv_mutex_);
    if (recv_head_ == recv_tail_) return RecvOutcome::kNone;
    const RecvOp& recv = recv_queue_[recv_head_++ % recv_queue_.size()];
    completion.cookie = recv.cookie;
    completion.endpoint_id = id_;
    completion.byte_len = static_cast<uint32_t>(bytes);
    if (write_target != nullptr) {
      if (!scatter_copy(src, num_src, write_target, 1, bytes, gpu_memory())) {
        completion.status = Status::kLocalProtectionError;
        outcome = RecvOutcome::kProtectionError;
      }
      completion.kind = CompletionKind::kRecvWriteWithImm;
      completion.has_imm = true;
      completion.imm = imm;
    } else {
      completion.kind = CompletionKind::kRecv;
      if (!list_allowed(device, pd.id, recv.sges, recv.num_sge, kAccessLocalWrite)) {
        completion.status = Status::kLocalProtectionError;
        completion.byte_len = 0;
        outcome = RecvOutcome::kProtectionError;
      } else if (total_length(recv.sges, recv.num_sge) < bytes) {
        completion.status = Status::kLocalLengthError;
        completion.byte_len = 0;
        outcome = RecvOutcome::kLengthError;
      } else if (!scatter_copy(src, num_src, recv.sges, recv.num_sge, bytes, gpu_memory())) {
        completion.status = Status::kLocalProtectionError;
        completion.byte_len = 0;
        outcome = RecvOutcome::kProtectionError;
      }
    }
  }
  push_completion(config_.recv_cq, completion);
  return outcome;
}

// Reports a finished work request on the send queue: always on error, on success only
// when it was signaled.
void EmuEndpoint::report_locked(const SendOp& op) {
  if (!op.request.signaled && op.status == Status::kSuccess) return;
  Completion completion;
  completion.cookie = op.request.cookie;
  completion.status = op.status;
  completion.kind = local_kind(op.request.opcode);
  completion.byte_len = static_cast<uint32_t>(op.bytes);
  completion.endpoint_id = id_;
  push_completion(config_.send_cq, completion);
}

void EmuEndpoint::complete_locked(SendOp& op) {
  op.state = OpState::kDone;
  report_locked(op);
  while (send_head_ < send_tail_ && op_at(send_head_).state == OpState::kDone) {
    op_at(send_head_).state = OpState::kFree;
    ++send_head_;
  }
  if (op.status != Status::kSuccess && config_.kind == EndpointKind::kRc &&
      state() != EndpointState::kError) {
    state_.store(EndpointState::kError, std::memory_order_release);
    flush_locked();
    flush_recvs();
  }
}

// Every outstanding operation completes, in posting order: those already executed with
// their real status (their completion was on its way), the rest with kFlushed.
void EmuEndpoint::flush_locked() {
  wire_stop_locked();
  for (uint64_t seq = send_head_; seq < send_tail_; ++seq) {
    SendOp& op = op_at(seq);
    if (op.state == OpState::kDone || op.state == OpState::kFree) continue;
    if (op.state != OpState::kDelivered) op.status = Status::kFlushed;
    op.state = OpState::kDone;
    report_locked(op);
  }
  send_head_ = send_deliver_ = wire_next_ = send_tail_;
  for (auto& op : send_queue_) op.state = OpState::kFree;
}

void EmuEndpoint::flush_recvs() {
  std::lock_guard lock(recv_mutex_);
  while (recv_head_ < recv_tail_) {
    const RecvOp& recv = recv_queue_[recv_head_++ % recv_queue_.size()];
    Completion completion;
    completion.cookie = recv.cookie;
    completion.status = Status::kFlushed;
    completion.kind = CompletionKind::kRecv;
    completion.endpoint_id = id_;
    push_completion(config_.recv_cq, completion);
  }
}

void EmuEndpoint::push_completion(CompletionQueue* cq, const Completion& completion) {
  if (silent_.load()) return;
  if (fabric_.deterministic()) {
    fabric_.record(TraceRecord{fabric_.now_ns(), device.node, device.nic, id_, completion.cookie,
                               completion.kind, completion.status, completion.byte_len,
                               completion.imm});
  }
  if (!static_cast<EmuCompletionQueue*>(cq)->push(completion)) {
    // Overflow: the queue reports it on its next poll; the endpoint can no longer be
    // trusted to report its work, so it stops, as a QP on an overflowed CQ does.
    state_.store(EndpointState::kError, std::memory_order_release);
  }
}

}  // namespace ferry::emu
