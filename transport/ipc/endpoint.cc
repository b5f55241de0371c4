// Endpoints of the ipc provider. The initiator executes an operation when it is posted
// (or when its retry is due): it checks it against its own table and the target's
// published one, moves the bytes, pushes the target's completion into the target's ring
// and completes it locally. Every check is made before a byte moves.
#include <unistd.h>

#include <cstring>
#include <string>

#include "transport/ipc/internal.h"
#include "transport/provider_support/work_request_checks.h"

namespace ferry::ipc {
namespace {

constexpr uint32_t kAddressMagic = 0x41504946;  // "FIPA"
constexpr uint8_t kAddressVersion = 1;
constexpr uint32_t kInfiniteRnrRetry = 7;

// The address blob: which process, which of its segments, which endpoint.
struct WireAddress {
  uint32_t magic = 0;
  uint8_t version = 0;
  uint8_t kind = 0;
  uint16_t reserved = 0;
  int32_t pid = 0;
  uint32_t endpoint_id = 0;
  char segment[48] = {};
};
static_assert(sizeof(WireAddress) == 64);

bool within(const RegionEntry& mr, uint64_t addr, uint64_t length) {
  return addr >= mr.addr && length <= mr.length && addr - mr.addr <= mr.length - length;
}

// Gates entered while an operation runs, left when it is done (RAII).
struct Held {
  std::vector<Gate*> gates;
  ~Held() {
    for (Gate* gate : gates) leave(*gate);
  }
};

// The live region of `key` in `segment` that belongs to `pd_id`, grants `needed` and
// covers [addr, +length), entered (the caller leaves it); null otherwise.
const RegionEntry* enter_region(Segment& segment, uint32_t key, uint32_t pd_id, uint32_t needed, uint64_t addr,
                                uint64_t length, std::vector<Gate*>& held) {
  const uint32_t slot = key_slot(key);
  if (slot == kMaxRegions) return nullptr;
  RegionEntry& mr = segment.regions[slot];
  if (!enter(mr.gate, key)) return nullptr;
  held.push_back(&mr.gate);
  if (mr.pd_id != pd_id || (mr.access & needed) != needed || !within(mr, addr, length)) return nullptr;
  return &mr;
}

// A piece of memory of the target: host memory in its process, GPU memory mapped here.
bool remote_piece(PeerProcess& peer, const RegionEntry& mr, uint32_t key, uint64_t addr, uint64_t length,
                  Piece* out) {
  if (static_cast<MemoryKind>(mr.kind) == MemoryKind::kHost) {
    *out = Piece{addr, length, false, false};
    return true;
  }
  auto* base = static_cast<uint8_t*>(peer.gpu_memory(key_slot(key), key, mr));
  if (base == nullptr) return false;
  *out = Piece{reinterpret_cast<uint64_t>(base) + (addr - mr.addr), length, true, true};
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------
// Creation and connection

Result<std::unique_ptr<Endpoint>> IpcProtectionDomain::create_endpoint(const EndpointConfig& config) {
  const DeviceAttributes& attr = device.attributes();
  auto* send_cq = dynamic_cast<IpcCompletionQueue*>(config.send_cq);
  auto* recv_cq = dynamic_cast<IpcCompletionQueue*>(config.recv_cq);
  if (send_cq == nullptr || recv_cq == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "an ipc endpoint needs a send and a recv queue of an ipc device");
  }
  if (config.kind != EndpointKind::kRc) return make_error(ErrorCode::kUnsupported, attr.name + " offers no SRD endpoints");
  if (config.max_send_wr == 0 || config.max_send_wr > attr.max_send_wr || config.max_recv_wr == 0 ||
      config.max_recv_wr > attr.max_recv_wr) {
    return make_error(ErrorCode::kOutOfRange, "max_send_wr must be in [1, " + std::to_string(attr.max_send_wr) +
                                                  "] and max_recv_wr in [1, " + std::to_string(attr.max_recv_wr) + "]");
  }
  auto added = device.provider.add_endpoint();
  if (!added.ok()) return added.error();
  auto [id, slot] = *added;
  slot->pd_id = this->id;
  slot->kind = static_cast<uint8_t>(config.kind);
  auto endpoint = std::make_unique<IpcEndpoint>(*this, config, id, *slot);
  recv_cq->attach(endpoint.get());
  device.provider.list_endpoint(endpoint.get());
  return std::unique_ptr<Endpoint>(std::move(endpoint));
}

IpcEndpoint::IpcEndpoint(IpcProtectionDomain& pd, const EndpointConfig& config, uint32_t id, EndpointSlot& slot)
    : provider_(pd.device.provider), pd_(pd), config_(config), id_(id), slot_(slot) {}

IpcEndpoint::~IpcEndpoint() {
  provider_.unlist_endpoint(this);
  static_cast<IpcCompletionQueue*>(config_.recv_cq)->detach(this);
  provider_.remove_endpoint(id_);
}

std::vector<uint8_t> IpcEndpoint::address() const {
  WireAddress a;
  a.magic = kAddressMagic;
  a.version = kAddressVersion;
  a.kind = static_cast<uint8_t>(config_.kind);
  a.pid = getpid();
  a.endpoint_id = id_;
  std::strncpy(a.segment, provider_.segment_name().c_str(), sizeof a.segment - 1);
  std::vector<uint8_t> bytes(sizeof a);
  std::memcpy(bytes.data(), &a, sizeof a);
  return bytes;
}

VoidResult IpcEndpoint::connect(std::span<const uint8_t> peer_address) {
  if (state() != EndpointState::kInit) {
    return make_error(ErrorCode::kFailedPrecondition, std::string("connect() on an endpoint in state ") +
                                                          to_string(state()));
  }
  WireAddress a;
  if (peer_address.size() != sizeof a) {
    return make_error(ErrorCode::kInvalidArgument, "ipc address must be " + std::to_string(sizeof a) +
                                                       " bytes, got " + std::to_string(peer_address.size()));
  }
  std::memcpy(&a, peer_address.data(), sizeof a);
  if (a.magic != kAddressMagic || a.version != kAddressVersion || a.pid <= 0 ||
      a.segment[sizeof a.segment - 1] != '\0' || std::strncmp(a.segment, "/ferry-ipc-", 11) != 0) {
    return make_error(ErrorCode::kInvalidArgument, "bad magic, version or segment: not the address of an ipc endpoint");
  }
  if (a.kind != static_cast<uint8_t>(config_.kind)) {
    return make_error(ErrorCode::kInvalidArgument, std::string("cannot connect a ") + to_string(config_.kind) +
                                                       " endpoint to a peer of another kind");
  }
  auto peer = provider_.peer(a.segment);
  if (!peer.ok()) return peer.error();
  if ((*peer)->pid != a.pid) {
    return make_error(ErrorCode::kInvalidArgument, std::string("ipc: segment ") + a.segment +
                                                       " belongs to another process than the address names");
  }
  EndpointSlot& target = (*peer)->segment->endpoints[(a.endpoint_id - 1) % kMaxEndpoints];
  if (a.endpoint_id == 0 || target.gate.id.load() != a.endpoint_id) {
    return make_error(ErrorCode::kNotFound, "no ipc endpoint " + std::to_string(a.endpoint_id) + " in process " +
                                               std::to_string(a.pid) + " (destroyed?)");
  }
  peer_ = *peer;
  peer_id_ = a.endpoint_id;
  peer_slot_ = &target;
  // Whom this endpoint takes operations from: its peer checks these before each one.
  slot_.peer_pid.store(a.pid);
  slot_.peer_salt.store(peer_->segment->header.key_salt);
  slot_.peer_endpoint.store(a.endpoint_id);
  EndpointState expected = EndpointState::kInit;
  state_.compare_exchange_strong(expected, EndpointState::kReady);
  return {};
}

// ---------------------------------------------------------------------------------
// Posting

VoidResult IpcEndpoint::post_send(std::span<const WorkRequest> requests, size_t* bad_index) {
  const DeviceAttributes& attr = pd_.device.attributes();
  std::lock_guard lock(send_mutex_);
  if (state() == EndpointState::kInit) {
    if (bad_index) *bad_index = 0;
    return make_error(ErrorCode::kFailedPrecondition, "post_send before connect()");
  }
  if (peer_error_requested()) enter_error_locked();
  for (size_t i = 0; i < requests.size(); ++i) {
    const WorkRequest& wr = requests[i];
    if (auto wrong = check_send_request(wr, attr, queue_.size(), config_.max_send_wr)) {
      if (bad_index) *bad_index = i;
      run_queue_locked();  // what was posted before still runs
      return make_error(wrong->code, "work request " + std::to_string(i) + ": " + wrong->message);
    }
    SendOp& op = queue_.emplace_back();
    op.request = wr;
    std::copy_n(wr.sg_list, wr.num_sge, op.sges);
    op.request.sg_list = op.sges;
    for (uint32_t s = 0; s < wr.num_sge; ++s) op.bytes += op.sges[s].length;
  }
  run_queue_locked();
  return {};
}

VoidResult IpcEndpoint::post_recv(std::span<const RecvRequest> requests, size_t* bad_index) {
  if (state() == EndpointState::kInit) {
    if (bad_index) *bad_index = 0;
    return make_error(ErrorCode::kFailedPrecondition, "post_recv before connect()");
  }
  VoidResult result;
  {
    std::lock_guard lock(recv_mutex_);
    auto* cq = static_cast<IpcCompletionQueue*>(config_.recv_cq);
    {
      // Recvs a peer consumed free their places once their completions are queued.
      std::lock_guard cq_lock(cq->mutex);
      cq->drain_locked(*this);
    }
    for (size_t i = 0; i < requests.size(); ++i) {
      const RecvRequest& rr = requests[i];
      if (rr.num_sge > kMaxSge || (rr.num_sge > 0 && rr.sg_list == nullptr)) {
        if (bad_index) *bad_index = i;
        result = make_error(ErrorCode::kInvalidArgument, "recv request " + std::to_string(i) + ": " +
                                                             std::to_string(rr.num_sge) +
                                                             " scatter-gather entries, the device takes at most " +
                                                             std::to_string(kMaxSge));
        break;
      }
      const uint64_t tail = slot_.recv_tail.load(std::memory_order_relaxed);
      const uint64_t in_use = tail - slot_.recv_head.load() + (slot_.done_tail.load() - slot_.done_head.load());
      if (in_use >= config_.max_recv_wr) {
        if (bad_index) *bad_index = i;
        result = make_error(ErrorCode::kResourceExhausted,
                            "recv queue full (" + std::to_string(config_.max_recv_wr) + " posted)");
        break;
      }
      RecvSlot& slot = slot_.recvs[tail % kRecvRing];
      slot.cookie = rr.cookie;
      slot.num_sge = rr.num_sge;
      std::copy_n(rr.sg_list, rr.num_sge, slot.sges);
      slot_.recv_tail.store(tail + 1, std::memory_order_release);
    }
  }
  // On an endpoint in the error state, whatever was posted flushes at once.
  if (state() == EndpointState::kError) flush_recvs();
  return result;
}

void IpcEndpoint::set_error() {
  std::lock_guard lock(send_mutex_);
  enter_error_locked();
}

bool IpcEndpoint::progress() {
  std::lock_guard lock(send_mutex_);
  bool any = false;
  if (peer_error_requested() && state() != EndpointState::kError) {
    enter_error_locked();
    any = true;
  }
  if (!queue_.empty()) any = run_queue_locked() || any;
  return any;
}

bool IpcEndpoint::peer_error_requested() { return slot_.error_requested.exchange(0) != 0; }

// ---------------------------------------------------------------------------------
// Execution

// Runs the queue in posting order until an operation must wait for its retry.
bool IpcEndpoint::run_queue_locked() {
  bool any = false;
  const uint64_t now = provider_.clock().now_ns();
  while (!queue_.empty()) {
    if (state() == EndpointState::kError) {
      flush_sends_locked();
      return true;
    }
    SendOp& op = queue_.front();
    if (op.next_try_ns > now) break;
    Status status = Status::kSuccess;
    if (attempt_locked(op, &status) == Attempt::kRetryLater) break;
    any = true;
    const SendOp done = op;
    queue_.pop_front();
    report(done, status);
    if (status != Status::kSuccess) enter_error_locked();
  }
  return any;
}

IpcEndpoint::Attempt IpcEndpoint::attempt_locked(SendOp& op, Status* status) {
  const WorkRequest& wr = op.request;
  Held held;
  // The local list, against this provider's own table.
  const uint32_t local_needed = wr.opcode == Opcode::kRead ? uint32_t{kAccessLocalWrite} : 0u;
  for (uint32_t i = 0; i < wr.num_sge; ++i) {
    const Sge& sge = op.sges[i];
    if (sge.length == 0) continue;
    if (enter_region(provider_.segment(), sge.lkey, pd_.id, local_needed, sge.addr, sge.length, held.gates) ==
        nullptr) {
      *status = Status::kLocalProtectionError;
      return Attempt::kDone;
    }
  }
  if (op.bytes > pd_.device.attributes().max_message_bytes) {
    *status = Status::kLocalLengthError;
    return Attempt::kDone;
  }
  // The peer: its process alive, its endpoint there and connected back to this one.
  const bool reachable = peer_->alive() && enter(peer_slot_->gate, peer_id_);
  if (reachable) held.gates.push_back(&peer_slot_->gate);
  const bool answers = reachable && peer_slot_->peer_pid.load() == getpid() &&
                       peer_slot_->peer_salt.load() == provider_.key_salt() &&
                       peer_slot_->peer_endpoint.load() == id_;
  bool no_recv = false;
  if (answers) {
    *status = deliver_locked(op, held.gates, &no_recv);
    if (*status != Status::kRetryExceeded && !no_recv) return Attempt::kDone;
  }
  const uint64_t now = provider_.clock().now_ns();
  if (no_recv) {
    if (config_.rnr_retry == kInfiniteRnrRetry || op.rnr_attempts < config_.rnr_retry) {
      ++op.rnr_attempts;
      op.next_try_ns = now + config_.rnr_timer_ns;
      return Attempt::kRetryLater;
    }
    *status = Status::kRnrRetryExceeded;
    return Attempt::kDone;
  }
  // Nobody answers: retry after the transport timeout, then give up.
  if (op.retry_attempts < config_.retry_count) {
    ++op.retry_attempts;
    op.next_try_ns = now + config_.retry_timeout_ns;
    return Attempt::kRetryLater;
  }
  *status = Status::kRetryExceeded;
  return Attempt::kDone;
}

Status IpcEndpoint::deliver_locked(SendOp& op, std::vector<Gate*>& held, bool* no_recv) {
  const WorkRequest& wr = op.request;
  Segment& target = *peer_->segment;
  const uint32_t target_pd = peer_slot_->pd_id;
  // Local pieces (the local list was checked by the caller).
  std::vector<Piece> local;
  for (uint32_t i = 0; i < wr.num_sge; ++i) {
    const Sge& sge = op.sges[i];
    if (sge.length == 0) continue;
    const RegionEntry& mr = provider_.segment().regions[key_slot(sge.lkey)];
    local.push_back(Piece{sge.addr, sge.length, true, static_cast<MemoryKind>(mr.kind) == MemoryKind::kDevice});
  }
  auto fail_at_target = [&](Status status) {
    peer_slot_->error_requested.store(1);  // RC: the target's endpoint goes to error too
    return status;
  };
  auto copied = [](CopyStatus s) {
    return s == CopyStatus::kOk ? Status::kSuccess
           : s == CopyStatus::kPeerGone ? Status::kRetryExceeded
                                        : Status::kLocalProtectionError;
  };

  // Write, write-with-imm and read name one range of the target's memory, checked first.
  Piece remote{};
  if (wr.opcode != Opcode::kSend && op.bytes > 0) {
    const uint32_t needed = wr.opcode == Opcode::kRead ? kAccessRemoteRead : kAccessRemoteWrite;
    const RegionEntry* mr = enter_region(target, wr.rkey, target_pd, needed, wr.remote_addr, op.bytes, held);
    if (mr == nullptr) return fail_at_target(Status::kRemoteAccessError);
    if (!remote_piece(*peer_, *mr, wr.rkey, wr.remote_addr, op.bytes, &remote)) {
      return fail_at_target(Status::kRemoteOperationError);
    }
  }
  const std::span<const Piece> remote_span(&remote, op.bytes > 0 ? 1 : 0);
  if (wr.opcode == Opcode::kWrite) return copied(copy_pieces(peer_->pid, local, remote_span, op.bytes));
  if (wr.opcode == Opcode::kRead) return copied(copy_pieces(peer_->pid, remote_span, local, op.bytes));

  // Send and write-with-imm take the target's next recv: read its slot, then claim it.
  RecvSlot recv;
  for (;;) {
    uint64_t head = peer_slot_->recv_head.load();
    if (head == peer_slot_->recv_tail.load(std::memory_order_acquire)) {
      *no_recv = true;
      return Status::kSuccess;
    }
    std::memcpy(static_cast<void*>(&recv), &peer_slot_->recvs[head % kRecvRing], sizeof recv);
    if (peer_slot_->recv_head.compare_exchange_strong(head, head + 1)) break;
  }
  Completion done;
  done.cookie = recv.cookie;
  done.endpoint_id = peer_id_;
  done.byte_len = static_cast<uint32_t>(op.bytes);
  Status status = Status::kSuccess;
  if (wr.opcode == Opcode::kWriteWithImm) {
    done.kind = CompletionKind::kRecvWriteWithImm;
    done.has_imm = true;
    done.imm = wr.imm;
    status = copied(copy_pieces(peer_->pid, local, remote_span, op.bytes));
    if (status == Status::kLocalProtectionError) {
      done.status = Status::kLocalProtectionError;
      status = Status::kRemoteOperationError;
    }
  } else {
    done.kind = CompletionKind::kRecv;
    std::vector<Piece> into;
    uint64_t room = 0;
    bool writable = true;
    for (uint32_t i = 0; i < recv.num_sge && writable; ++i) {
      const Sge& sge = recv.sges[i];
      room += sge.length;
      if (sge.length == 0) continue;
      const RegionEntry* mr = enter_region(target, sge.lkey, target_pd, kAccessLocalWrite, sge.addr, sge.length, held);
      Piece piece{};
      writable = mr != nullptr && remote_piece(*peer_, *mr, sge.lkey, sge.addr, sge.length, &piece);
      into.push_back(piece);
    }
    if (!writable) {
      done.status = Status::kLocalProtectionError;
      status = Status::kRemoteOperationError;
    } else if (room < op.bytes) {
      // As an RC responder does: a NAK "invalid request".
      done.status = Status::kLocalLengthError;
      status = Status::kRemoteInvalidRequest;
    } else {
      status = copied(copy_pieces(peer_->pid, local, into, op.bytes));
      if (status == Status::kLocalProtectionError) {
        done.status = Status::kLocalProtectionError;
        status = Status::kRemoteOperationError;
      }
    }
    if (done.status != Status::kSuccess) done.byte_len = 0;
  }
  if (status == Status::kRetryExceeded) return status;  // the target's process is gone
  // Only now, with the data in place, the target's completion (this is its one producer).
  const uint64_t tail = peer_slot_->done_tail.load(std::memory_order_relaxed);
  peer_slot_->done[tail % kDoneRing] = done;
  peer_slot_->done_tail.store(tail + 1, std::memory_order_release);
  return status == Status::kSuccess ? status : fail_at_target(status);
}

// ---------------------------------------------------------------------------------
// Completions and the error state

void IpcEndpoint::report(const SendOp& op, Status status) {
  if (!op.request.signaled && status == Status::kSuccess) return;
  Completion c;
  c.cookie = op.request.cookie;
  c.status = status;
  c.kind = local_kind(op.request.opcode);
  c.byte_len = static_cast<uint32_t>(op.bytes);
  c.endpoint_id = id_;
  // An overflowed queue can no longer report this endpoint's work: it stops.
  if (!static_cast<IpcCompletionQueue*>(config_.send_cq)->push(c)) {
    state_.store(EndpointState::kError, std::memory_order_release);
  }
}

void IpcEndpoint::enter_error_locked() {
  state_.store(EndpointState::kError, std::memory_order_release);
  flush_sends_locked();
  flush_recvs();
}

void IpcEndpoint::flush_sends_locked() {
  while (!queue_.empty()) {
    report(queue_.front(), Status::kFlushed);
    queue_.pop_front();
  }
}

// Completions peers already pushed come first; then every recv still posted, flushed.
void IpcEndpoint::flush_recvs() {
  std::lock_guard lock(recv_mutex_);
  auto* cq = static_cast<IpcCompletionQueue*>(config_.recv_cq);
  std::lock_guard cq_lock(cq->mutex);
  cq->drain_locked(*this);
  for (;;) {
    uint64_t head = slot_.recv_head.load();
    if (head == slot_.recv_tail.load(std::memory_order_acquire)) break;
    const uint64_t cookie = slot_.recvs[head % kRecvRing].cookie;
    if (!slot_.recv_head.compare_exchange_strong(head, head + 1)) continue;
    Completion c;
    c.cookie = cookie;
    c.status = Status::kFlushed;
    c.kind = CompletionKind::kRecv;
    c.endpoint_id = id_;
    if (!cq->push_locked(c)) state_.store(EndpointState::kError, std::memory_order_release);
  }
}

}  // namespace ferry::ipc
