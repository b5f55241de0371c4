// The tcp provider's objects. Not for use outside transport/tcp/.
//
// Threads: each provider runs one event loop thread (epoll) that reads every socket and
// writes what could not be written at once; posting threads write their requests'
// frames themselves. Everything below is guarded by TcpProvider::mutex, taken by the
// loop for each batch of events and by every API call; a completion queue has its own
// mutex, taken after it. Endpoint::state() is read without the lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "transport/provider_support/completion_ring.h"
#include "transport/provider_support/memory_registration.h"
#include "transport/tcp/tcp_provider.h"
#include "transport/tcp/wire.h"

namespace ferry::tcp {

inline constexpr uint32_t kMaxSge = 16;
inline constexpr uint32_t kInfiniteRnrRetry = 7;

class TcpProvider;
class TcpEndpoint;

// A range of registered memory that an operation reads or writes.
struct Piece {
  uint8_t* addr = nullptr;
  uint64_t length = 0;
  bool device = false;  // GPU memory: staged through host memory
};

// The part of `pieces` from `offset` on, `length` bytes of it.
std::vector<Piece> slice(const std::vector<Piece>& pieces, uint64_t offset, uint64_t length);
uint64_t bytes_of(const std::vector<Piece>& pieces);
bool any_device(const std::vector<Piece>& pieces);
// Copies between a contiguous host buffer and the pieces (GPU pieces with the CUDA copy
// engines); false when a GPU copy failed.
bool gather(const std::vector<Piece>& pieces, uint8_t* out);
bool scatter(const std::vector<Piece>& pieces, const uint8_t* in);

// Regions an operation uses, pinned until the last frame or operation holding them is
// gone: deregistration waits for that, so no socket call touches a deregistered region.
// Created and destroyed with the provider's mutex held.
class Pins {
 public:
  explicit Pins(TcpProvider& provider) : provider_(provider) {}
  ~Pins();
  Pins(const Pins&) = delete;
  Pins& operator=(const Pins&) = delete;
  void add(uint32_t key);

 private:
  TcpProvider& provider_;
  std::vector<uint32_t> keys_;
};

// A frame waiting to be written: its header, then the bytes of `data`.
struct OutFrame {
  Frame header;
  std::vector<Piece> data;      // host memory, header.chunk_len bytes in all
  std::vector<uint8_t> staged;  // GPU bytes copied out first; data then points here
  std::shared_ptr<Pins> pins;
  uint64_t written = 0;  // of header and data together
};

// One TCP connection. An outgoing one was opened by this side's endpoint: requests go
// out, responses come in. An incoming one was accepted for an endpoint here: requests
// come in, responses go out.
struct Lane {
  int fd = -1;  // -1 once closed
  TcpEndpoint* endpoint = nullptr;  // null until an accepted connection said hello
  bool outgoing = false;
  std::deque<OutFrame> out;
  uint32_t events = 0;  // what epoll watches now

  // Reading: the hello (accepted connections), then frame after frame.
  Hello hello;
  size_t hello_have = 0;
  Frame in;
  size_t in_have = 0;
  bool in_accepted = false;            // the header was handled; its bytes go to `sink`
  std::vector<Piece> sink;             // where this chunk's bytes go
  bool discard = false;                // nowhere: they are read and dropped
  uint64_t in_done = 0;                // bytes of the chunk read
  std::vector<uint8_t> staging;        // a chunk for GPU memory, before its copy
  bool paused = false;                 // a request ahead of its turn waits in `in`
};

class TcpDevice final : public Device {
 public:
  explicit TcpDevice(TcpProvider& provider, const std::string& name);
  const DeviceAttributes& attributes() const override { return attributes_; }
  Result<std::unique_ptr<ProtectionDomain>> create_protection_domain() override;
  Result<std::unique_ptr<CompletionQueue>> create_completion_queue(uint32_t depth) override;

  TcpProvider& provider;

 private:
  DeviceAttributes attributes_;
};

class TcpProtectionDomain final : public ProtectionDomain {
 public:
  TcpProtectionDomain(TcpDevice& device, uint32_t id) : device(device), id(id) {}
  Result<std::unique_ptr<MemoryRegion>> register_memory(void* addr, size_t length, uint32_t access,
                                                        MemoryKind kind) override;
  Result<std::unique_ptr<Endpoint>> create_endpoint(const EndpointConfig& config) override;

  TcpDevice& device;
  const uint32_t id;
};

class TcpCompletionQueue final : public CompletionQueue {
 public:
  explicit TcpCompletionQueue(uint32_t depth) : ring_(depth) {}
  Result<size_t> poll(std::span<Completion> out) override {
    std::lock_guard lock(mutex_);
    return ring_.poll(out);
  }
  uint32_t depth() const override { return ring_.depth(); }
  // False when the queue overflowed: the completion is lost.
  bool push(const Completion& completion) {
    std::lock_guard lock(mutex_);
    return ring_.push(completion);
  }

 private:
  std::mutex mutex_;
  CompletionRing ring_;
};

// A posted work request, from posting until its completion is reported.
struct SendOp {
  WorkRequest request;
  Sge sges[kMaxSge];
  uint64_t bytes = 0;
  uint64_t ssn = 0;
  bool started = false;  // its frames were queued: it is on the wire
  bool done = false;
  Status status = Status::kSuccess;
  uint32_t rnr_attempts = 0;
  uint64_t next_try_ns = 0;  // when waiting for a recv at the target (no credit)
  // A read: where its bytes go, pinned until they are in.
  std::vector<Piece> local;
  std::shared_ptr<Pins> pins;
  uint64_t read_done = 0;
  bool acked = false;
};

struct PostedRecv {
  uint64_t cookie = 0;
  uint32_t num_sge = 0;
  Sge sges[kMaxSge];
};

// The request the target executes now (requests run one at a time, in order).
struct TargetOp {
  bool active = false;
  uint8_t type = 0;
  uint64_t total = 0;
  uint64_t received = 0;
  uint32_t imm = 0;
  uint8_t status = 0;  // the ack's: a Status or kNotExecuted
  bool has_recv = false;
  PostedRecv recv;
  Status recv_status = Status::kSuccess;
  std::vector<Piece> dest;
  std::shared_ptr<Pins> pins;
  bool discard = false;
};

class TcpEndpoint final : public Endpoint {
 public:
  TcpEndpoint(TcpProtectionDomain& pd, const EndpointConfig& config);
  ~TcpEndpoint() override;

  EndpointKind kind() const override { return config_.kind; }
  EndpointState state() const override { return state_.load(std::memory_order_acquire); }
  uint32_t id() const override { return id_; }
  std::vector<uint8_t> address() const override;
  VoidResult connect(std::span<const uint8_t> peer_address) override;
  VoidResult post_send(std::span<const WorkRequest> requests, size_t* bad_index) override;
  VoidResult post_recv(std::span<const RecvRequest> requests, size_t* bad_index) override;
  void set_error() override;

  // Everything below: the provider's mutex held.
  // Initiator: starts what may start, fails what timed out; true when something happened.
  bool service_locked(uint64_t now);
  // A response on an outgoing connection: an ack or credit (no bytes), or where a read's
  // chunk goes (null: discard).
  void on_response_locked(const Frame& frame);
  const std::vector<Piece>* read_sink_locked(const Frame& frame);
  void on_read_data_locked(const Frame& frame, bool copied);
  // The outgoing connections broke or the peer stopped answering.
  void peer_lost_locked();
  bool waits_on_timer() const;

  // Target: an accepted connection of this endpoint's peer.
  void attach_incoming_locked(Lane* lane, const Hello& hello);
  // The next request's header, in its turn: where its bytes go (null: discard).
  const std::vector<Piece>* on_request_locked(const Frame& frame);
  // All bytes of a chunk are in (`copied`: and in GPU memory where they go there).
  void on_request_chunk_locked(const Frame& frame, bool copied);
  // An incoming connection broke: the request under way is dropped.
  void incoming_lost_locked();
  uint64_t expected_ssn() const { return expected_ssn_; }
  // Sends the ack of every request done since the last one: one frame for many.
  void flush_ack_locked();
  void forget_lane_locked(Lane* lane);

 private:
  void start_ops_locked(uint64_t now);
  Status check_local_locked(SendOp& op, std::shared_ptr<Pins>& pins, std::vector<Piece>& pieces);
  void queue_request_frames_locked(SendOp& op, const std::vector<Piece>& pieces, std::shared_ptr<Pins> pins);
  void fail_locked(SendOp& op, Status status);
  void finish_locked(SendOp& op, Status status);
  SendOp* find_op_locked(uint64_t ssn);
  void complete_locked();
  void enter_error_locked();
  void flush_recvs_locked();
  void push_recv_completion_locked(const Completion& completion);
  void send_credit_locked();
  void finish_target_op_locked();
  void respond_read_locked(const Frame& frame);
  void ack_locked(uint64_t ssn, uint8_t status);
  bool connected_back_locked() const;

  TcpProvider& provider_;
  TcpProtectionDomain& pd_;
  const EndpointConfig config_;
  const uint32_t id_;
  std::atomic<EndpointState> state_{EndpointState::kInit};

  // The peer, once connected.
  uint32_t peer_id_ = 0;
  uint64_t peer_nonce_ = 0;
  std::vector<Lane*> out_lanes_;
  bool peer_lost_ = false;

  // Initiator.
  std::deque<SendOp> ops_;  // posted, not yet completed; the front completes first
  size_t unstarted_ = 0;    // ops_[unstarted_..] are not on the wire yet
  uint64_t next_ssn_ = 0;
  uint64_t peer_posted_ = 0;  // recvs the peer posted in all (credits it sent)
  uint64_t consumed_ = 0;     // sends and writes-with-imm started
  uint64_t last_activity_ns_ = 0;

  // Target.
  std::vector<Lane*> in_lanes_;
  uint32_t in_peer_id_ = 0;
  uint64_t in_peer_nonce_ = 0;
  std::deque<PostedRecv> recvs_;
  uint64_t posted_ = 0;
  uint64_t expected_ssn_ = 0;
  uint64_t succeeded_through_ = 0;  // requests [0, this) succeeded ...
  bool ack_due_ = false;            // ... and the initiator was not told yet
  TargetOp target_;

  friend class TcpProvider;
};

class TcpProvider final : public Provider {
 public:
  TcpProvider(const TcpOptions& options, int listen_fd, uint32_t ipv4, uint16_t port);
  ~TcpProvider() override;
  const char* name() const override { return "tcp"; }
  size_t device_count() const override { return 1; }
  Device& device(size_t index) override;
  const Clock& clock() const override { return clock_; }
  // The event loop thread moves everything; nothing is left for the caller to run.
  bool progress() override { return false; }

  const TcpOptions& options() const { return options_; }
  uint32_t ipv4() const { return ipv4_; }
  uint16_t port() const { return port_; }
  uint64_t nonce() const { return nonce_; }

  std::mutex mutex;

  // Registrations and pins (mutex held, but for deregister which takes it).
  KeyTable keys{8};
  void pin_locked(uint32_t key) { ++pins_[key]; }
  void unpin_locked(uint32_t key);
  void deregister(uint32_t key);
  uint32_t next_pd_id() { return ++pd_ids_; }

  // Endpoints and connections (mutex held).
  uint32_t add_endpoint_locked(TcpEndpoint* endpoint);
  void remove_endpoint_locked(uint32_t id);
  Lane* add_lane_locked(int fd, TcpEndpoint* endpoint, bool outgoing);
  void close_lane_locked(Lane* lane);
  // Queues a frame and writes what the socket takes now.
  void send_frame_locked(Lane* lane, OutFrame frame);
  void flush_locked(Lane* lane);
  void wake();

 private:
  void run();
  void accept_locked();
  void read_locked(Lane* lane);
  // Reads one lane as far as it goes; true when it consumed bytes or frames.
  bool read_lane_locked(Lane* lane);
  bool read_hello_locked(Lane* lane);
  void lane_failed_locked(Lane* lane);
  void watch_locked(Lane* lane);
  bool service_locked();

  const TcpOptions options_;
  const int listen_fd_;
  const uint32_t ipv4_;
  const uint16_t port_;
  const uint64_t nonce_;
  SteadyClock clock_;
  std::unique_ptr<TcpDevice> device_;
  std::atomic<uint32_t> pd_ids_{0};

  std::condition_variable unpinned_;
  std::unordered_map<uint32_t, uint32_t> pins_;
  std::map<uint32_t, TcpEndpoint*> endpoints_;
  uint32_t next_endpoint_id_ = 1;
  std::map<Lane*, std::unique_ptr<Lane>> lanes_;
  std::vector<std::unique_ptr<Lane>> closed_;  // freed once no event can name them
  std::vector<uint8_t> discard_;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread loop_;
};

}  // namespace ferry::tcp
