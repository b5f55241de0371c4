// What RC and SRD endpoints share: posting and its synchronous checks, the send ring
// and recv queue, completions, the error state and flushing, addresses, the local
// checks a NIC makes before sending, frames, a retransmission timer, and congestion
// control (DCQCN: CNPs for ECN-marked data, the rate, pacing). The transport itself is
// in rc_endpoint.cc and srd_endpoint.cc.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "sim/dcqcn.h"
#include "sim/device.h"
#include "sim/frame.h"
#include "transport/provider.h"

namespace ferry::sim {

constexpr uint32_t kMaxSge = 32;  // upper bound of SimulationConfig::max_sge
constexpr uint64_t kNever = UINT64_MAX;

// A posted work request, in a slot of the send ring.
struct SendOp {
  enum class State : uint8_t {
    kFree,
    kPosted,  // in progress
    kFailed,  // its error is decided; RC reports it once everything before it completed
    kDone,    // reported; the slot frees once everything before it is done too
  };

  WorkRequest request;
  Sge sges[kMaxSge];
  uint64_t seq = 0;  // position in the endpoint's send queue since creation
  uint64_t bytes = 0;
  uint32_t packets = 0;
  State state = State::kFree;
  Status status = Status::kSuccess;
  bool started = false;  // its local checks ran (when its first packet was due)
  uint32_t rnr_attempts = 0;

  // RC: the PSNs [first_psn, first_psn + packets) are this request's.
  uint64_t first_psn = 0;

  // SRD
  std::vector<bool> acked;
  uint32_t acked_count = 0;
  uint32_t next_new = 0;     // first packet never sent in this attempt
  uint32_t attempt = 0;      // RNR restarts the message
  uint32_t unacked_sent = 0; // packets on the wire, counted in the endpoint's window
  uint64_t resume_ns = 0;    // RNR: not before then
};

// A send and a write-with-imm consume a recv at the target.
inline bool consumes_recv(uint8_t opcode) {
  return opcode == static_cast<uint8_t>(Opcode::kSend) ||
         opcode == static_cast<uint8_t>(Opcode::kWriteWithImm);
}

struct RecvOp {
  uint64_t cookie = 0;
  Sge sges[kMaxSge];
  uint32_t num_sge = 0;
};

class SimEndpoint : public Endpoint {
 public:
  SimEndpoint(SimProtectionDomain& pd, const EndpointConfig& config, uint32_t id);
  ~SimEndpoint() override;

  // Endpoint
  EndpointKind kind() const override { return config_.kind; }
  EndpointState state() const override { return state_; }
  uint32_t id() const override { return id_; }
  std::vector<uint8_t> address() const override;
  VoidResult connect(std::span<const uint8_t> peer_address) override;
  VoidResult post_send(std::span<const WorkRequest> requests, size_t* bad_index) override;
  VoidResult post_recv(std::span<const RecvRequest> requests, size_t* bad_index) override;
  void set_error() override;

  // The NIC's side: the next frame to send (null: none now), a frame for us, and the
  // timer event.
  Frame* next_frame();
  void receive(const Frame& frame);
  void on_timer_event(uint64_t at_ns);

  // A work request still in progress, for a peer that copies its source list.
  const SendOp* find_op(uint64_t seq) const;
  MemoryList source_list(const SendOp& op) const;

  SimDevice& device;
  SimProtectionDomain& pd;
  bool in_ready_list = false;  // the NIC's round-robin list holds it

 protected:
  // The transport: its next frame, a frame for it (not a CNP).
  virtual Frame* build_next_frame() = 0;
  virtual void handle_frame(const Frame& frame) = 0;
  virtual void on_posted(SendOp& op) = 0;  // a request entered the ring (endpoint ready)
  virtual void on_timeout() = 0;           // the timer's deadline passed
  virtual void on_error() = 0;             // drop transport state: the endpoint is in error

  SimulationImpl& sim() const { return device.sim; }
  const EndpointConfig& config() const { return config_; }
  SendOp& op_at(uint64_t seq) { return send_ring_[seq % send_ring_.size()]; }
  SendOp* active_op(uint64_t seq);  // posted or failed, not yet reported

  // Local checks a NIC makes before sending the first packet of a request.
  Status check_local(const SendOp& op) const;
  // RNR: another retry is allowed (rnr_retry 7 means forever, as in verbs).
  bool may_retry_rnr(const SendOp& op) const;

  // Target side. A write's key, range and rights, checked on the whole message.
  bool remote_write_allowed(const Frame& frame) const;
  bool remote_read_allowed(const Frame& frame) const;
  // A recv for a send of `bytes`: kSuccess, kLocalProtectionError or kLocalLengthError.
  Status check_recv(const RecvOp& recv, uint64_t bytes) const;
  // What the initiator hears of a recv that failed check_recv(): a recv too short is an
  // invalid request, one not writable an operation error (as verbs).
  static NakCode nak_for_recv(Status recv_status) {
    return recv_status == Status::kLocalLengthError ? NakCode::kInvalidRequest : NakCode::kRemoteOperation;
  }
  // Copies the payload of a data frame from the requester's list into the target range
  // (write) or into `recv`'s list (send), after checking both.
  enum class Placement { kPlaced, kNoSource, kRefused };
  Placement place_payload(const Frame& frame, const RecvOp* recv);
  // Initiator side: copies a read response into the request's list. kRefused sets
  // *status to kRemoteAccessError or kLocalProtectionError.
  Placement place_read_response(const SendOp& op, const Frame& frame, Status* status);
  MemoryList local_list(const SendOp& op) const;
  MemoryList recv_list(const RecvOp& recv) const;
  // The peer endpoint's request `seq`, for copying its source; null when gone.
  const SimEndpoint* peer_endpoint(uint32_t id) const;

  // Pushes the completion of a request (errors always, successes when signaled) and
  // marks it done.
  void report(SendOp& op);
  // Frees the slots of done requests at the head of the ring.
  void retire();
  // Pushes a recv's completion.
  void complete_recv(const RecvOp& recv, Status status, CompletionKind kind, uint32_t byte_len,
                     bool has_imm, uint32_t imm);
  // The error state: every request still in the ring completes in posting order (those
  // whose error is decided with it, the rest with kFlushed), then every recv.
  void enter_error();

  // A frame from this endpoint to its peer; a payload frame with its wire size.
  Frame* new_frame(FrameKind kind);
  Frame* new_payload_frame(FrameKind kind, uint32_t payload);
  void wake() { device.wake(*this); }

  // Congestion control, when enabled. A request packet may go now (if not, a wake is
  // scheduled for when it may); `paced` accounts one that went.
  bool pacing_allows();
  void paced(uint32_t wire_bytes);

  // One deadline, watched by at most one pending event at a time.
  void arm_timer(uint64_t at_ns);
  void disarm_timer() { deadline_ = kNever; }
  bool timer_armed() const { return deadline_ != kNever; }
  uint64_t timer_deadline() const { return deadline_; }

  uint64_t send_head_ = 0;  // oldest request not done
  uint64_t send_tail_ = 0;  // next sequence number to post
  std::deque<RecvOp> recvs_;
  uint32_t peer_id_ = 0;
  uint32_t peer_nic_ = 0;

 private:
  void push_completion(CompletionQueue* cq, const Completion& completion);
  void flush_recvs();
  void notify_congestion();  // notification point: a CNP for marked data
  void on_cnp();                               // reaction point
  void schedule_rate_timer();
  void release_urgent();

  const EndpointConfig config_;
  const uint32_t id_;
  EndpointState state_ = EndpointState::kInit;
  std::vector<SendOp> send_ring_;
  uint64_t deadline_ = kNever;
  uint64_t timer_event_at_ = kNever;

  std::deque<Frame*> urgent_;  // CNPs: sent before anything else
  std::optional<DcqcnRate> rate_;
  double next_send_ns_ = 0;    // pacing: the next request packet not before then
  uint64_t pace_wake_at_ = kNever;
  bool rate_timer_pending_ = false;
  uint64_t last_cnp_ns_ = 0;
  bool sent_cnp_ = false;
};

}  // namespace ferry::sim
