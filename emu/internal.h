// The emulator's objects behind the provider interface. Not for use outside emu/.
//
// Locking (fast mode runs on several threads; deterministic mode takes the same locks
// uncontended): FabricImpl::tables (shared while work executes, exclusive to add or
// remove keys and endpoints) -> an endpoint's send_mutex -> an endpoint's recv_mutex ->
// a completion queue's mutex -> FabricImpl::events_mutex / trace_mutex. Never the other
// way round.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "emu/fabric.h"
#include "emu/wire.h"
#include "transport/provider_support/completion_ring.h"
#include "transport/provider_support/dma_copy.h"
#include "transport/provider_support/memory_registration.h"
#include "transport/provider_support/trace_hash.h"
#include "transport/random.h"

namespace ferry::emu {

constexpr uint32_t kMaxSge = 32;  // upper bound of NicConfig::max_sge
constexpr uint32_t kEfaMaxSge = 2;  // NicConfig::efa_constraints: an EFA send queue's

class FabricImpl;
class EmuEndpoint;

class EmuDevice final : public Device {
 public:
  EmuDevice(FabricImpl& fabric, uint32_t node, uint32_t nic, const NicConfig& config);

  const DeviceAttributes& attributes() const override { return attributes_; }
  Result<std::unique_ptr<ProtectionDomain>> create_protection_domain() override;
  Result<std::unique_ptr<CompletionQueue>> create_completion_queue(uint32_t depth) override;

  FabricImpl& fabric;
  const uint32_t node;
  const uint32_t nic;
  const NicConfig config;
  std::atomic<bool> link_up{true};
  std::atomic<bool> dead{false};
  std::atomic<double> loss_probability{0};
  // Deterministic mode: the two directions of the link, shared by the operations on them.
  WirePort tx_port, rx_port;
  // Wire counters (Cluster::nic_counters): payload through this NIC, counted at delivery
  // in fast mode and as it leaves the wire in deterministic mode (the ports add what is
  // crossing them now).
  std::atomic<uint64_t> tx_bytes{0}, rx_bytes{0}, tx_packets{0}, rx_packets{0};
  std::atomic<uint64_t> retransmitted_packets{0};
  // Faults on operations sent from this NIC (Fabric::lose_acks, Fabric::duplicate_srd).
  std::atomic<uint32_t> acks_to_lose{0};
  std::atomic<uint32_t> srd_duplicates{0};
  // Callers hold FabricImpl::tables (shared to look up, exclusive to change). An 8-bit
  // generation: a stale key matches again only after 256 reuses of its slot.
  KeyTable keys{8};

 private:
  DeviceAttributes attributes_;
};

class EmuProtectionDomain final : public ProtectionDomain {
 public:
  EmuProtectionDomain(EmuDevice& device, uint32_t id) : device(device), id(id) {}
  Result<std::unique_ptr<MemoryRegion>> register_memory(void* addr, size_t length,
                                                        uint32_t access,
                                                        MemoryKind kind) override;
  Result<std::unique_ptr<Endpoint>> create_endpoint(const EndpointConfig& config) override;

  EmuDevice& device;
  const uint32_t id;
};

class EmuCompletionQueue final : public CompletionQueue {
 public:
  EmuCompletionQueue(FabricImpl& fabric, uint32_t depth);
  Result<size_t> poll(std::span<Completion> out) override;
  uint32_t depth() const override { return ring_.depth(); }

  // False when the queue was full: the completion is lost and the queue overflowed.
  bool push(const Completion& completion);

 private:
  FabricImpl& fabric_;
  std::mutex mutex_;  // completions are pushed by the fabric, polled by the user
  CompletionRing ring_;
};

// Where a posted work request is in its life.
enum class OpState : uint8_t {
  kFree,
  kQueued,     // posted; not yet arrived at the target (or waiting to retry)
  kArrived,    // at the target; RC: waiting for the requests before it
  kDelivered,  // executed at the target (or failed); its completion is on its way
  kDone,
};

struct SendOp {
  WorkRequest request;
  Sge sges[kMaxSge];
  uint64_t seq = 0;  // position in the endpoint's send queue since creation
  uint64_t bytes = 0;
  OpState state = OpState::kFree;
  Status status = Status::kSuccess;
  uint32_t rnr_attempts = 0;
  uint32_t retry_attempts = 0;
  uint64_t extra_delay_ns = 0;  // deterministic mode: loss recovery and SRD reordering
};

struct RecvOp {
  uint64_t cookie = 0;
  Sge sges[kMaxSge];
  uint32_t num_sge = 0;
};

enum class EventKind : uint8_t { kArrive, kAck, kPump, kCallback, kWire };

struct Event {
  uint64_t time_ns;
  uint64_t seq;  // ties at one time run in scheduling order
  EventKind kind;
  uint32_t endpoint_id;
  uint64_t op_seq;  // kArrive/kAck: which operation; kCallback: the callback slot; kWire: the flow's generation
};

class EmuEndpoint final : public Endpoint {
 public:
  EmuEndpoint(EmuProtectionDomain& pd, const EndpointConfig& config, uint32_t id);
  ~EmuEndpoint() override;

  EndpointKind kind() const override { return config_.kind; }
  EndpointState state() const override { return state_.load(std::memory_order_acquire); }
  uint32_t id() const override { return id_; }
  std::vector<uint8_t> address() const override;
  VoidResult connect(std::span<const uint8_t> peer_address) override;
  VoidResult post_send(std::span<const WorkRequest> requests, size_t* bad_index) override;
  VoidResult post_recv(std::span<const RecvRequest> requests, size_t* bad_index) override;
  void set_error() override;

  // Called by the fabric with FabricImpl::tables held shared.
  void on_event(const Event& event);
  // The peer's side of a delivery, called with the initiator's send_mutex held.
  enum class RecvOutcome { kTaken, kNone, kLengthError, kProtectionError };
  RecvOutcome take_recv_and_fill(const Sge* src, uint32_t num_src, uint64_t bytes,
                                 const Sge* write_target, uint32_t imm);
  // Error state from outside (peer's fault, NIC death): flushes at the next pump.
  void request_error(bool silent);
  bool peer_reachable() const;
  // Whether a wire event of this generation would finish the operation on the wire.
  bool wire_finishes(uint64_t generation) const { return wire_busy_ && wire_.generation == generation; }

  EmuDevice& device;
  EmuProtectionDomain& pd;

 private:
  enum class Attempt { kDelivered, kRetryLater, kFailed };
  SendOp& op_at(uint64_t seq) { return send_queue_[seq % send_queue_.size()]; }
  void deliver_ready_locked(uint64_t from);
  bool run_op_locked(SendOp& op);
  bool gpu_memory() const;
  void count_on_wire_locked(const SendOp& op);
  void deliver_again_locked(const SendOp& op);
  static bool take_one(std::atomic<uint32_t>& budget);
  Attempt attempt_locked(SendOp& op, uint64_t* retry_at);
  Status check_local_locked(const SendOp& op) const;
  void finish_locked(SendOp& op);
  void complete_locked(SendOp& op);
  void report_locked(const SendOp& op);
  void flush_locked();
  void flush_recvs();
  void push_completion(CompletionQueue* cq, const Completion& completion);
  uint64_t extra_delay_locked(const SendOp& op);
  void wire_next_locked();
  void wire_done_locked();
  void wire_stop_locked();

  // Deterministic mode: operations cross the wire one after another, in posting order.
  WireFlow wire_;
  uint64_t wire_next_ = 0;  // the operation on the wire, or the next to go on it
  bool wire_busy_ = false;  // wire_next_ is on the wire (the flow may stay on between two)
  EmuDevice* wire_from_ = nullptr;  // the NICs of the operation on the wire
  EmuDevice* wire_to_ = nullptr;

  FabricImpl& fabric_;
  const EndpointConfig config_;
  const uint32_t id_;
  std::atomic<EndpointState> state_{EndpointState::kInit};
  std::atomic<bool> silent_{false};  // node vanished: nobody is left to see completions
  uint32_t peer_id_ = 0;

  std::mutex send_mutex_;
  std::vector<SendOp> send_queue_;
  uint64_t send_head_ = 0;     // oldest operation not done
  uint64_t send_tail_ = 0;     // next sequence number to post
  uint64_t send_deliver_ = 0;  // RC: next operation to deliver in order
  uint64_t last_arrival_ns_ = 0;
  bool halted_ = false;  // RC: an operation failed; nothing after it may execute

  std::mutex recv_mutex_;
  std::vector<RecvOp> recv_queue_;
  uint64_t recv_head_ = 0;
  uint64_t recv_tail_ = 0;
};

class EmuNode final : public Provider {
 public:
  EmuNode(FabricImpl& fabric, uint32_t index);
  const char* name() const override { return "emu"; }
  size_t device_count() const override { return devices.size(); }
  Device& device(size_t index) override { return *devices.at(index); }
  const Clock& clock() const override;
  bool progress() override;

  std::vector<std::unique_ptr<EmuDevice>> devices;
  std::atomic<bool> vanished{false};

 private:
  FabricImpl& fabric_;
};

class FabricImpl {
 public:
  explicit FabricImpl(FabricConfig config);

  bool deterministic() const { return config.mode == Mode::kDeterministic; }
  uint64_t now_ns() const { return clock_.now_ns(); }
  const Clock& clock() const { return clock_; }

  void schedule(uint64_t time_ns, EventKind kind, uint32_t endpoint_id, uint64_t op_seq);
  uint64_t add_callback(std::function<void()> fn);
  bool step(uint64_t limit_ns = UINT64_MAX);
  void run_until(uint64_t t_ns);
  // Fast mode: runs the events that are due. Cheap when none is pending.
  bool run_due();

  // Callers of these three hold tables exclusive. Ids are never reused, so the address
  // of a destroyed endpoint stays dead.
  uint32_t add_endpoint(EmuEndpoint* endpoint);
  void set_endpoint(uint32_t id, EmuEndpoint* endpoint) { endpoints_[id - 1] = endpoint; }
  void remove_endpoint(uint32_t id);
  EmuEndpoint* endpoint(uint32_t id) const;      // callers hold tables
  uint32_t endpoint_count() const { return static_cast<uint32_t>(endpoints_.size()); }
  uint32_t next_pd_id() { return ++pd_ids_; }  // domains may be created from any thread
  EmuDevice& device(uint32_t node, uint32_t nic) const;

  // Schedules the finish of a flow whose rate changed (deterministic mode).
  void wire_changed(WireFlow& flow);
  const WireChanged& on_wire_change() const { return on_wire_change_; }

  void record(const TraceRecord& record);
  void record_fault(uint32_t kind, uint32_t node, uint32_t nic);

  const FabricConfig config;
  std::vector<std::unique_ptr<EmuNode>> nodes;
  mutable std::shared_mutex tables;
  Rng rng;  // deterministic mode only: one thread draws from it

  uint64_t trace_hash = kTraceHashSeed;
  // Live registrations of GPU memory on any NIC: while there are some, copies go through
  // the CUDA copy engines (provider_support/dma_copy.h).
  std::atomic<uint64_t> gpu_regions{0};
  std::vector<TraceRecord> trace;

 private:
  class FabricClock final : public Clock {
   public:
    explicit FabricClock(const FabricImpl& fabric) : fabric_(fabric) {}
    uint64_t now_ns() const override;
    bool is_wall_time() const override;

   private:
    const FabricImpl& fabric_;
    SteadyClock steady_;
  };

  void run_event(const Event& event);
  bool stale(const Event& event) const;
  bool pop_event(uint64_t limit_ns, Event* out);

  FabricClock clock_{*this};
  WireChanged on_wire_change_ = [this](WireFlow& flow) { wire_changed(flow); };
  std::atomic<uint64_t> virtual_now_{0};
  std::vector<EmuEndpoint*> endpoints_;  // index = id - 1; null once destroyed
  std::atomic<uint32_t> pd_ids_{0};

  std::mutex events_mutex_;
  std::vector<Event> events_;  // a min-heap on (time, seq)
  std::atomic<size_t> pending_events_{0};
  uint64_t event_seq_ = 0;
  std::vector<std::function<void()>> callbacks_;
  std::vector<uint64_t> free_callbacks_;
  std::mutex trace_mutex_;
};

}  // namespace ferry::emu
