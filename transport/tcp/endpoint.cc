// Endpoints of the tcp provider, the initiator's side: creation, connection (the
// endpoint opens its connections to the peer's listener and says hello on each),
// posting, and the send queue: requests start in posting order, each cut into chunks
// over the connections, and complete in posting order when the target's ack is back.
// A send or write-with-imm starts only with a credit, a recv the target said it posted:
// without one it waits as an RNR retry would.
#include <unistd.h>

#include <cstring>
#include <string>

#include "transport/provider_support/work_request_checks.h"
#include "transport/tcp/internal.h"
#include "transport/net/socket.h"

namespace ferry::tcp {
namespace {

// A live peer's event loop may not run for a while on a busy host (its thread waits for
// a core): shorter silences than this are not taken for a dead peer, whatever the
// retry settings (a NIC's acks do not wait for a scheduler).
constexpr uint64_t kMinSilenceNs = 1'000'000'000;

bool needs_recv(Opcode op) { return op == Opcode::kSend || op == Opcode::kWriteWithImm; }

FrameType frame_type(Opcode op) {
  switch (op) {
    case Opcode::kWrite: return FrameType::kWrite;
    case Opcode::kWriteWithImm: return FrameType::kWriteWithImm;
    case Opcode::kSend: return FrameType::kSend;
    case Opcode::kRead: return FrameType::kRead;
  }
  return FrameType::kWrite;
}

// A post refused at request `i`.
Error refused(size_t* bad_index, size_t i, ErrorCode code, const std::string& message) {
  if (bad_index) *bad_index = i;
  return make_error(code, message);
}

}  // namespace

// ---------------------------------------------------------------------------------
// Creation and connection

Result<std::unique_ptr<Endpoint>> TcpProtectionDomain::create_endpoint(const EndpointConfig& config) {
  const DeviceAttributes& attr = device.attributes();
  if (dynamic_cast<TcpCompletionQueue*>(config.send_cq) == nullptr ||
      dynamic_cast<TcpCompletionQueue*>(config.recv_cq) == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "a tcp endpoint needs a send and a recv queue of a tcp device");
  }
  if (config.kind != EndpointKind::kRc) {
    return make_error(ErrorCode::kUnsupported,
                      attr.name + " offers RC endpoints only: its requests run in posting order over the connections");
  }
  if (config.max_send_wr == 0 || config.max_send_wr > attr.max_send_wr || config.max_recv_wr == 0 ||
      config.max_recv_wr > attr.max_recv_wr) {
    return make_error(ErrorCode::kOutOfRange, "max_send_wr must be in [1, " + std::to_string(attr.max_send_wr) +
                                                  "] and max_recv_wr in [1, " + std::to_string(attr.max_recv_wr) + "]");
  }
  TcpProvider& provider = device.provider;
  std::lock_guard lock(provider.mutex);
  return std::unique_ptr<Endpoint>(std::make_unique<TcpEndpoint>(*this, config));
}

// Created with the provider's mutex held: it lists itself.
TcpEndpoint::TcpEndpoint(TcpProtectionDomain& pd, const EndpointConfig& config)
    : provider_(pd.device.provider), pd_(pd), config_(config), id_(provider_.add_endpoint_locked(this)) {}

TcpEndpoint::~TcpEndpoint() {
  std::lock_guard lock(provider_.mutex);
  provider_.remove_endpoint_locked(id_);
  for (Lane* lane : std::vector<Lane*>(out_lanes_)) provider_.close_lane_locked(lane);
  for (Lane* lane : std::vector<Lane*>(in_lanes_)) provider_.close_lane_locked(lane);
  ops_.clear();  // discarded without completions; their pins go now, under the lock
  target_ = TargetOp{};
}

std::vector<uint8_t> TcpEndpoint::address() const {
  WireAddress a;
  a.magic = kAddressMagic;
  a.version = kWireVersion;
  a.kind = static_cast<uint8_t>(config_.kind);
  a.port = provider_.port();
  a.ipv4 = provider_.ipv4();
  a.endpoint_id = id_;
  a.nonce = provider_.nonce();
  std::vector<uint8_t> bytes(sizeof a);
  std::memcpy(bytes.data(), &a, sizeof a);
  return bytes;
}

VoidResult TcpEndpoint::connect(std::span<const uint8_t> peer_address) {
  if (state() != EndpointState::kInit) {
    return make_error(ErrorCode::kFailedPrecondition, std::string("connect() on an endpoint in state ") +
                                                          to_string(state()));
  }
  const Result<WireAddress> parsed = parse_address(peer_address);
  if (!parsed.ok()) return parsed.error();
  const WireAddress& a = *parsed;
  if (a.kind != static_cast<uint8_t>(config_.kind)) {
    return make_error(ErrorCode::kInvalidArgument, std::string("cannot connect a ") + to_string(config_.kind) +
                                                       " endpoint to a peer of another kind");
  }
  // The connections, opened and greeted one by one without the provider's lock: the
  // peer may be this very provider, whose loop must accept them meanwhile.
  const TcpOptions& options = provider_.options();
  const std::string peer = net::format_endpoint(a.ipv4, a.port);
  const uint32_t count = std::max<uint32_t>(1, std::min<uint32_t>(options.connections, 64));
  std::vector<int> fds;
  auto give_up = [&fds](Error error) {
    for (int fd : fds) close(fd);
    return error;
  };
  for (uint32_t i = 0; i < count; ++i) {
    auto fd = net::connect_to(a.ipv4, a.port, options.connect_timeout_ns);
    if (!fd.ok()) return give_up(fd.error());
    fds.push_back(*fd);
    Hello hello;
    hello.target_endpoint = a.endpoint_id;
    hello.target_nonce = a.nonce;
    hello.initiator_nonce = provider_.nonce();
    hello.initiator_endpoint = id_;
    hello.connection = static_cast<uint16_t>(i);
    hello.connections = static_cast<uint16_t>(count);
    const uint64_t deadline = provider_.clock().now_ns() + options.connect_timeout_ns;
    HelloReply reply;
    auto said = net::write_all(*fd, &hello, sizeof hello, deadline, peer);
    if (said.ok()) said = net::read_all(*fd, &reply, sizeof reply, deadline, peer);
    if (!said.ok()) return give_up(said.error());
    switch (static_cast<HelloStatus>(reply.status)) {
      case HelloStatus::kAccepted: break;
      case HelloStatus::kNoSuchEndpoint:
        return give_up(make_error(ErrorCode::kNotFound, "no tcp endpoint " + std::to_string(a.endpoint_id) + " at " +
                                                            peer + " (destroyed?)"));
      case HelloStatus::kWrongProvider:
        return give_up(make_error(ErrorCode::kNotFound,
                                  peer + " is not the provider the address names (restarted since?)"));
      default:
        return give_up(make_error(ErrorCode::kInvalidArgument, peer + " refused the connection as malformed"));
    }
  }
  std::lock_guard lock(provider_.mutex);
  if (state() != EndpointState::kInit) return give_up(make_error(ErrorCode::kFailedPrecondition, "connected meanwhile"));
  for (int fd : fds) {
    net::set_nonblocking(fd);
    out_lanes_.push_back(provider_.add_lane_locked(fd, this, true));
  }
  peer_id_ = a.endpoint_id;
  peer_nonce_ = a.nonce;
  last_activity_ns_ = provider_.clock().now_ns();
  state_.store(EndpointState::kReady, std::memory_order_release);
  // Recvs posted before the peer's connections came wait for them; none can be yet.
  return {};
}

// ---------------------------------------------------------------------------------
// Posting

VoidResult TcpEndpoint::post_send(std::span<const WorkRequest> requests, size_t* bad_index) {
  const DeviceAttributes& attr = pd_.device.attributes();
  std::lock_guard lock(provider_.mutex);
  if (state() == EndpointState::kInit) {
    return refused(bad_index, 0, ErrorCode::kFailedPrecondition, "post_send before connect()");
  }
  VoidResult result;
  for (size_t i = 0; i < requests.size(); ++i) {
    const WorkRequest& wr = requests[i];
    if (auto wrong = check_send_request(wr, attr, ops_.size(), config_.max_send_wr)) {
      result = refused(bad_index, i, wrong->code, "work request " + std::to_string(i) + ": " + wrong->message);
      break;
    }
    SendOp& op = ops_.emplace_back();
    op.request = wr;
    std::copy_n(wr.sg_list, wr.num_sge, op.sges);
    op.request.sg_list = op.sges;
    for (uint32_t s = 0; s < wr.num_sge; ++s) op.bytes += op.sges[s].length;
  }
  start_ops_locked(provider_.clock().now_ns());  // what was posted before a bad one still runs
  if (unstarted_ < ops_.size()) provider_.wake();  // waits for a credit: the loop's timer retries
  return result;
}

VoidResult TcpEndpoint::post_recv(std::span<const RecvRequest> requests, size_t* bad_index) {
  std::lock_guard lock(provider_.mutex);
  if (state() == EndpointState::kInit) {
    return refused(bad_index, 0, ErrorCode::kFailedPrecondition, "post_recv before connect()");
  }
  VoidResult result;
  for (size_t i = 0; i < requests.size(); ++i) {
    const RecvRequest& rr = requests[i];
    if (auto wrong = check_recv_request(rr, pd_.device.attributes())) {
      result = refused(bad_index, i, wrong->code, "recv request " + std::to_string(i) + ": " + wrong->message);
      break;
    }
    if (recvs_.size() >= config_.max_recv_wr) {
      result = refused(bad_index, i, ErrorCode::kResourceExhausted,
                       "recv queue full (" + std::to_string(config_.max_recv_wr) + " posted)");
      break;
    }
    PostedRecv& recv = recvs_.emplace_back();
    recv.cookie = rr.cookie;
    recv.num_sge = rr.num_sge;
    std::copy_n(rr.sg_list, rr.num_sge, recv.sges);
    ++posted_;
  }
  if (state() == EndpointState::kError) {
    flush_recvs_locked();
  } else {
    send_credit_locked();
  }
  return result;
}

void TcpEndpoint::set_error() {
  std::lock_guard lock(provider_.mutex);
  enter_error_locked();
}

// ---------------------------------------------------------------------------------
// The send queue

bool TcpEndpoint::waits_on_timer() const { return unstarted_ < ops_.size() && state() != EndpointState::kError; }

bool TcpEndpoint::service_locked(uint64_t now) {
  const size_t before = ops_.size() - unstarted_;
  if (unstarted_ < ops_.size()) start_ops_locked(now);
  // Requests on the wire with nothing heard for as long as every transport retry takes,
  // and at least kMinSilenceNs: the peer does not answer.
  if (unstarted_ > 0 && !out_lanes_.empty()) {
    const uint64_t silence =
        std::max(kMinSilenceNs, (uint64_t{config_.retry_count} + 1) * config_.retry_timeout_ns);
    bool waiting = false;
    for (size_t i = 0; i < unstarted_ && !waiting; ++i) waiting = !ops_[i].done;
    if (waiting && now - last_activity_ns_ > silence) peer_lost_locked();
  }
  return ops_.size() - unstarted_ != before;
}

void TcpEndpoint::start_ops_locked(uint64_t now) {
  while (unstarted_ < ops_.size()) {
    SendOp& op = ops_[unstarted_];
    if (state() == EndpointState::kError) {
      finish_locked(op, Status::kFlushed);
      continue;
    }
    if (op.bytes > pd_.device.attributes().max_message_bytes) {
      fail_locked(op, Status::kLocalLengthError);
      continue;
    }
    std::shared_ptr<Pins> pins;
    std::vector<Piece> pieces;
    if (Status local = check_local_locked(op, pins, pieces); local != Status::kSuccess) {
      fail_locked(op, local);
      continue;
    }
    if (peer_lost_) {
      fail_locked(op, Status::kRetryExceeded);
      continue;
    }
    if (needs_recv(op.request.opcode) && peer_posted_ == consumed_) {
      // Receiver not ready: retried every rnr_timer_ns, holding back what follows.
      if (op.next_try_ns == 0) {
        op.next_try_ns = now + config_.rnr_timer_ns;
        return;
      }
      if (now < op.next_try_ns) return;
      if (config_.rnr_retry != kInfiniteRnrRetry && op.rnr_attempts >= config_.rnr_retry) {
        fail_locked(op, Status::kRnrRetryExceeded);
        continue;
      }
      ++op.rnr_attempts;
      op.next_try_ns = now + config_.rnr_timer_ns;
      return;
    }
    if (needs_recv(op.request.opcode)) ++consumed_;
    op.ssn = next_ssn_++;
    op.started = true;
    ++unstarted_;
    last_activity_ns_ = now;
    queue_request_frames_locked(op, pieces, std::move(pins));
  }
}

Status TcpEndpoint::check_local_locked(SendOp& op, std::shared_ptr<Pins>& pins, std::vector<Piece>& pieces) {
  pins = std::make_shared<Pins>(provider_);
  // A read's list receives bytes: it needs local write.
  const uint32_t needed = op.request.opcode == Opcode::kRead ? uint32_t{kAccessLocalWrite} : 0u;
  for (uint32_t i = 0; i < op.request.num_sge; ++i) {
    const Sge& sge = op.sges[i];
    if (sge.length == 0) continue;
    if (!provider_.keys.allows(pd_.id, sge.lkey, sge.addr, sge.length, needed)) return Status::kLocalProtectionError;
    pins->add(sge.lkey);
    pieces.push_back(Piece{reinterpret_cast<uint8_t*>(sge.addr), sge.length,
                           provider_.keys.lookup(sge.lkey)->kind == MemoryKind::kDevice});
  }
  return Status::kSuccess;
}

void TcpEndpoint::queue_request_frames_locked(SendOp& op, const std::vector<Piece>& pieces,
                                              std::shared_ptr<Pins> pins) {
  Frame header;
  header.type = static_cast<uint8_t>(frame_type(op.request.opcode));
  header.imm = op.request.imm;
  header.ssn = op.ssn;
  header.remote_addr = op.request.remote_addr;
  header.rkey = op.request.rkey;
  header.total_len = op.bytes;
  if (op.request.opcode == Opcode::kRead) {
    // The request alone; the bytes come back into the list, kept pinned until then.
    op.local = pieces;
    op.pins = std::move(pins);
    provider_.send_frame_locked(out_lanes_.front(), OutFrame{header, {}, {}, nullptr, 0});
    return;
  }
  // Chunk c of a request goes on connection c: one of a small request always on the
  // first, so the target never waits for another connection to keep the order.
  const uint64_t stripe = std::max<uint32_t>(provider_.options().stripe_bytes, 4096);
  uint64_t offset = 0;
  size_t c = 0;
  do {
    const uint64_t n = std::min(stripe, op.bytes - offset);
    OutFrame frame;
    frame.header = header;
    frame.header.offset = offset;
    frame.header.chunk_len = static_cast<uint32_t>(n);
    frame.data = slice(pieces, offset, n);
    if (any_device(frame.data)) {
      // GPU memory goes out through a host copy.
      frame.staged.resize(n);
      if (!gather(frame.data, frame.staged.data())) std::memset(frame.staged.data(), 0, n);
      frame.data = {Piece{frame.staged.data(), n, false}};
    }
    frame.pins = pins;
    provider_.send_frame_locked(out_lanes_[c % out_lanes_.size()], std::move(frame));
    offset += n;
    ++c;
  } while (offset < op.bytes);
}

SendOp* TcpEndpoint::find_op_locked(uint64_t ssn) {
  for (size_t i = 0; i < unstarted_; ++i) {
    if (ops_[i].ssn == ssn) return ops_[i].done ? nullptr : &ops_[i];
  }
  return nullptr;
}

void TcpEndpoint::on_response_locked(const Frame& frame) {
  if (frame.type == static_cast<uint8_t>(FrameType::kCredit)) {
    peer_posted_ = std::max(peer_posted_, frame.ssn);
    start_ops_locked(provider_.clock().now_ns());
    return;
  }
  if (frame.type != static_cast<uint8_t>(FrameType::kAck)) return;
  if (frame.status == static_cast<uint8_t>(Status::kSuccess)) {
    // Every request up to frame.ssn succeeded; a read also waits for its bytes.
    for (size_t i = 0; i < unstarted_ && i < ops_.size(); ++i) {
      SendOp& op = ops_[i];
      if (op.ssn > frame.ssn) break;
      if (op.done) continue;
      op.acked = true;
      if (op.request.opcode == Opcode::kRead && op.read_done < op.bytes) continue;
      op.done = true;
      op.status = Status::kSuccess;
      op.pins.reset();
    }
    complete_locked();
    return;
  }
  SendOp* op = find_op_locked(frame.ssn);
  if (op == nullptr) return;
  // Not executed: the target did not take it; as a peer that does not answer, unless
  // this endpoint already failed and flushes.
  const Status status = frame.status != kNotExecuted        ? static_cast<Status>(frame.status)
                        : state() == EndpointState::kError ? Status::kFlushed
                                                            : Status::kRetryExceeded;
  fail_locked(*op, status);
}

const std::vector<Piece>* TcpEndpoint::read_sink_locked(const Frame& frame) {
  SendOp* op = find_op_locked(frame.ssn);
  if (op == nullptr || op->request.opcode != Opcode::kRead || frame.chunk_len > op->bytes ||
      frame.offset > op->bytes - frame.chunk_len) {
    return nullptr;
  }
  return &op->local;
}

void TcpEndpoint::on_read_data_locked(const Frame& frame, bool copied) {
  SendOp* op = find_op_locked(frame.ssn);
  if (op == nullptr || op->request.opcode != Opcode::kRead) return;
  if (!copied) {
    fail_locked(*op, Status::kLocalProtectionError);
    return;
  }
  op->read_done += frame.chunk_len;
  if (op->acked && op->read_done >= op->bytes) finish_locked(*op, Status::kSuccess);
}

void TcpEndpoint::peer_lost_locked() {
  for (Lane* lane : std::vector<Lane*>(out_lanes_)) provider_.close_lane_locked(lane);
  peer_lost_ = true;
  // What was on the wire may have landed, or not: retry exceeded, as on a fabric.
  for (size_t i = 0; i < unstarted_; ++i) {
    if (!ops_[i].done) {
      fail_locked(ops_[i], Status::kRetryExceeded);
      break;  // the rest flush
    }
  }
}

// ---------------------------------------------------------------------------------
// Completions and the error state

void TcpEndpoint::finish_locked(SendOp& op, Status status) {
  op.done = true;
  op.status = status;
  op.pins.reset();
  if (!op.started) {
    op.started = true;
    ++unstarted_;
  }
  complete_locked();  // may pop `op`
}

void TcpEndpoint::fail_locked(SendOp& op, Status status) {
  op.done = true;
  op.status = status;
  op.pins.reset();
  if (!op.started) {
    op.started = true;
    ++unstarted_;
  }
  // The error state before the completion, so that a caller who sees it sees the state.
  if (state() != EndpointState::kError) {
    enter_error_locked();
  } else {
    complete_locked();
  }
}

void TcpEndpoint::complete_locked() {
  auto* cq = static_cast<TcpCompletionQueue*>(config_.send_cq);
  while (!ops_.empty() && ops_.front().done) {
    const SendOp& op = ops_.front();
    if (op.request.signaled || op.status != Status::kSuccess) {
      Completion c;
      c.cookie = op.request.cookie;
      c.status = op.status;
      c.kind = local_kind(op.request.opcode);
      c.byte_len = static_cast<uint32_t>(op.bytes);
      c.endpoint_id = id_;
      // An overflowed queue can no longer report this endpoint's work: it stops.
      if (!cq->push(c)) state_.store(EndpointState::kError, std::memory_order_release);
    }
    ops_.pop_front();
    --unstarted_;
  }
}

void TcpEndpoint::enter_error_locked() {
  state_.store(EndpointState::kError, std::memory_order_release);
  flush_recvs_locked();
  // Requests not on the wire flush; those on it complete with what their ack says.
  while (unstarted_ < ops_.size()) {
    SendOp& op = ops_[unstarted_];
    op.done = true;
    op.status = Status::kFlushed;
    op.started = true;
    ++unstarted_;
  }
  complete_locked();
}

void TcpEndpoint::flush_recvs_locked() {
  for (const PostedRecv& recv : recvs_) {
    Completion c;
    c.cookie = recv.cookie;
    c.status = Status::kFlushed;
    c.kind = CompletionKind::kRecv;
    c.endpoint_id = id_;
    push_recv_completion_locked(c);
  }
  recvs_.clear();
}

void TcpEndpoint::push_recv_completion_locked(const Completion& completion) {
  if (!static_cast<TcpCompletionQueue*>(config_.recv_cq)->push(completion)) {
    state_.store(EndpointState::kError, std::memory_order_release);
  }
}

}  // namespace ferry::tcp
