// The ipc provider's objects. Not for use outside transport/ipc/.
//
// Locking: IpcProvider::endpoints_mutex -> an endpoint's send_mutex -> its recv_mutex ->
// a completion queue's mutex -> IpcProvider::tables_mutex / peers_mutex. What peers see
// goes through the shared segment (layout.h) and its gates, never through these locks.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "transport/ipc/ipc_provider.h"
#include "transport/ipc/layout.h"
#include "transport/ipc/peer_copy.h"
#include "transport/ipc/shared_memory.h"
#include "transport/provider_support/completion_ring.h"
#include "transport/provider_support/memory_registration.h"

namespace ferry::ipc {

class IpcProvider;
class IpcEndpoint;

// Another provider (or this one, for loopback) as seen from here: its segment, mapped,
// its process, and the GPU allocations of it opened here.
class PeerProcess {
 public:
  PeerProcess(SharedSegment segment, pid_t pid, int pidfd) : segment(std::move(segment)), pid(pid), pidfd_(pidfd) {}
  ~PeerProcess();
  // False once the process exited (a zombie included).
  bool alive() const;
  // Where the GPU region in `slot` with `key` is mapped here; null when it cannot be.
  void* gpu_memory(uint32_t slot, uint32_t key, const RegionEntry& entry);

  SharedSegment segment;
  const pid_t pid;

 private:
  int pidfd_;
  std::mutex mutex_;
  struct Opened {
    uint32_t key = 0;
    void* base = nullptr;
  };
  std::map<uint32_t, Opened> opened_;  // by region slot
};

class IpcDevice final : public Device {
 public:
  explicit IpcDevice(IpcProvider& provider);
  const DeviceAttributes& attributes() const override { return attributes_; }
  Result<std::unique_ptr<ProtectionDomain>> create_protection_domain() override;
  Result<std::unique_ptr<CompletionQueue>> create_completion_queue(uint32_t depth) override;

  IpcProvider& provider;

 private:
  DeviceAttributes attributes_;
};

class IpcProtectionDomain final : public ProtectionDomain {
 public:
  IpcProtectionDomain(IpcDevice& device, uint32_t id) : device(device), id(id) {}
  Result<std::unique_ptr<MemoryRegion>> register_memory(void* addr, size_t length, uint32_t access,
                                                        MemoryKind kind) override;
  Result<std::unique_ptr<Endpoint>> create_endpoint(const EndpointConfig& config) override;

  IpcDevice& device;
  const uint32_t id;
};

class IpcCompletionQueue final : public CompletionQueue {
 public:
  explicit IpcCompletionQueue(uint32_t depth) : ring_(depth) {}
  Result<size_t> poll(std::span<Completion> out) override;
  uint32_t depth() const override { return ring_.depth(); }

  // A local completion; false when it overflowed the queue.
  bool push(const Completion& completion);
  bool push_locked(const Completion& completion) { return ring_.push(completion); }
  // Endpoints whose target-side completions (in shared memory) drain into this queue.
  void attach(IpcEndpoint* endpoint);
  void detach(IpcEndpoint* endpoint);
  // Moves what peers pushed for `endpoint` into the ring; callers hold mutex.
  void drain_locked(IpcEndpoint& endpoint);

  std::mutex mutex;

 private:
  CompletionRing ring_;
  std::vector<IpcEndpoint*> receivers_;
};

struct SendOp {
  WorkRequest request;
  Sge sges[kMaxSge];
  uint64_t bytes = 0;
  uint32_t rnr_attempts = 0;
  uint32_t retry_attempts = 0;
  uint64_t next_try_ns = 0;
};

class IpcEndpoint final : public Endpoint {
 public:
  IpcEndpoint(IpcProtectionDomain& pd, const EndpointConfig& config, uint32_t id, EndpointSlot& slot);
  ~IpcEndpoint() override;

  EndpointKind kind() const override { return config_.kind; }
  EndpointState state() const override { return state_.load(std::memory_order_acquire); }
  uint32_t id() const override { return id_; }
  std::vector<uint8_t> address() const override;
  VoidResult connect(std::span<const uint8_t> peer_address) override;
  VoidResult post_send(std::span<const WorkRequest> requests, size_t* bad_index) override;
  VoidResult post_recv(std::span<const RecvRequest> requests, size_t* bad_index) override;
  void set_error() override;

  // Runs what is due (retries) and what peers asked for (the error state); true when
  // something happened.
  bool progress();
  EndpointSlot& slot() { return slot_; }
  // Called by the recv queue with its mutex held: the error state after an overflow.
  void overflowed() { state_.store(EndpointState::kError, std::memory_order_release); }

 private:
  enum class Attempt { kDone, kRetryLater };
  bool run_queue_locked();
  Attempt attempt_locked(SendOp& op, Status* status);
  // The operation at the target; *no_recv when it needs a recv and none is posted.
  Status deliver_locked(SendOp& op, std::vector<Gate*>& held, bool* no_recv);
  void enter_error_locked();
  void flush_sends_locked();
  void flush_recvs();
  void report(const SendOp& op, Status status);
  bool peer_error_requested();

  IpcProvider& provider_;
  IpcProtectionDomain& pd_;
  const EndpointConfig config_;
  const uint32_t id_;
  EndpointSlot& slot_;
  std::atomic<EndpointState> state_{EndpointState::kInit};

  std::shared_ptr<PeerProcess> peer_;
  uint32_t peer_id_ = 0;
  EndpointSlot* peer_slot_ = nullptr;

  std::mutex send_mutex_;
  std::deque<SendOp> queue_;  // posted, not yet completed; the front runs first
  std::mutex recv_mutex_;
};

class IpcProvider final : public Provider {
 public:
  IpcProvider(SharedSegment segment, uint32_t key_salt);
  ~IpcProvider() override;
  const char* name() const override { return "ipc"; }
  size_t device_count() const override { return 1; }
  Device& device(size_t index) override;
  const Clock& clock() const override { return clock_; }
  bool progress() override;

  Segment& segment() { return *segment_; }
  const std::string& segment_name() const { return segment_.name(); }
  // The provider whose segment is `name`, attached once and shared by its endpoints.
  Result<std::shared_ptr<PeerProcess>> peer(const std::string& name);

  // Tables of the segment; the slot is published only once filled.
  Result<uint32_t> add_region(const RegionEntry& filled);
  void remove_region(uint32_t key);
  Result<std::pair<uint32_t, EndpointSlot*>> add_endpoint();  // (id, slot)
  // Publishes it to peers and lets progress() drive it.
  void list_endpoint(IpcEndpoint* endpoint);
  void unlist_endpoint(IpcEndpoint* endpoint);
  // Retires the slot (peers can no longer reach it) and frees it.
  void remove_endpoint(uint32_t id);
  uint32_t key_salt() const { return key_salt_; }
  uint32_t next_pd_id() { return ++pd_ids_; }

 private:
  SharedSegment segment_;
  const uint32_t key_salt_;
  SteadyClock clock_;
  std::unique_ptr<IpcDevice> device_;
  std::atomic<uint32_t> pd_ids_{0};

  std::mutex tables_mutex_;
  std::vector<uint8_t> region_generations_ = std::vector<uint8_t>(kMaxRegions, 0);
  std::vector<uint32_t> free_regions_;
  uint32_t used_regions_ = 0;
  std::vector<uint32_t> endpoint_generations_ = std::vector<uint32_t>(kMaxEndpoints, 0);
  std::vector<bool> endpoint_used_ = std::vector<bool>(kMaxEndpoints, false);

  std::mutex endpoints_mutex_;
  std::vector<IpcEndpoint*> endpoints_;

  std::mutex peers_mutex_;
  std::map<std::string, std::shared_ptr<PeerProcess>> peers_;
};

}  // namespace ferry::ipc
