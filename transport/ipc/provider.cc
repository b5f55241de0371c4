// The ipc provider, its device, domains, regions and completion queues; the shared
// tables they publish. Endpoints are in endpoint.cc.
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "transport/ipc/internal.h"
#include "transport/gpu/runtime.h"
#include "transport/random.h"

namespace ferry::ipc {

// ---------------------------------------------------------------------------------
// Gates

bool enter(Gate& gate, uint32_t id) {
  gate.users.fetch_add(1);
  if (id != 0 && gate.id.load() == id) return true;
  gate.users.fetch_sub(1);
  return false;
}

void leave(Gate& gate) { gate.users.fetch_sub(1); }

void retire(Gate& gate) {
  gate.id.store(0);
  // A peer copies for at most a few milliseconds; one that died inside never leaves.
  const SteadyClock clock;
  const uint64_t give_up = clock.now_ns() + 2'000'000'000;
  while (gate.users.load() != 0 && clock.now_ns() < give_up) std::this_thread::yield();
}

// ---------------------------------------------------------------------------------
// Peers

PeerProcess::~PeerProcess() {
  for (auto& [slot, opened] : opened_) gpu::close_ipc_handle(opened.base);
  if (pidfd_ >= 0) close(pidfd_);
}

bool PeerProcess::alive() const {
  if (pidfd_ < 0) return kill(pid, 0) == 0 || errno != ESRCH;
  pollfd p{pidfd_, POLLIN, 0};
  return poll(&p, 1, 0) == 0;  // readable once the process exited
}

void* PeerProcess::gpu_memory(uint32_t slot, uint32_t key, const RegionEntry& entry) {
  // In this very process the registered address is valid as it is (CUDA refuses to open
  // a process's own handle).
  if (pid == getpid()) return reinterpret_cast<void*>(entry.addr);
  std::lock_guard lock(mutex_);
  auto it = opened_.find(slot);
  if (it != opened_.end() && it->second.key != key) {
    gpu::close_ipc_handle(it->second.base);  // the slot was registered again since
    opened_.erase(it);
    it = opened_.end();
  }
  if (it == opened_.end()) {
    auto base = gpu::open_ipc_handle(entry.ipc_handle);
    if (!base.ok()) return nullptr;
    it = opened_.emplace(slot, Opened{key, *base}).first;
  }
  return static_cast<uint8_t*>(it->second.base) + entry.alloc_offset;
}

// ---------------------------------------------------------------------------------
// Device, domain, regions, completion queues

IpcDevice::IpcDevice(IpcProvider& provider) : provider(provider) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  attributes_.name = std::string("ipc:") + host;
  attributes_.vendor = "ferry-ipc";
  attributes_.link_gbps = 0;  // unknown: NVLink, PCIe or memory bandwidth, whichever the copy takes
  attributes_.mtu = 4096;     // no packets; the unit the engine sizes pieces by
  attributes_.max_sge = kMaxSge;
  attributes_.max_send_wr = 1024;
  attributes_.max_recv_wr = kRecvRing;
  attributes_.ordered = true;
  attributes_.unordered = false;
  attributes_.supports_rdma_read = true;
  attributes_.supports_write_with_imm = true;
}

Result<std::unique_ptr<ProtectionDomain>> IpcDevice::create_protection_domain() {
  return std::unique_ptr<ProtectionDomain>(std::make_unique<IpcProtectionDomain>(*this, provider.next_pd_id()));
}

Result<std::unique_ptr<CompletionQueue>> IpcDevice::create_completion_queue(uint32_t depth) {
  if (depth == 0 || depth > attributes_.max_cqe) {
    return make_error(ErrorCode::kOutOfRange, "completion queue depth must be in [1, " +
                                                  std::to_string(attributes_.max_cqe) + "]");
  }
  return std::unique_ptr<CompletionQueue>(std::make_unique<IpcCompletionQueue>(depth));
}

Result<std::unique_ptr<MemoryRegion>> IpcProtectionDomain::register_memory(void* addr, size_t length, uint32_t access,
                                                                           MemoryKind kind) {
  if (auto checked = check_registration(addr, length, access, kind, "ipc"); !checked.ok()) return checked.error();
  RegionEntry entry;
  entry.pd_id = id;
  entry.access = access;
  entry.kind = static_cast<uint8_t>(kind);
  entry.addr = reinterpret_cast<uint64_t>(addr);
  entry.length = length;
  if (kind == MemoryKind::kDevice) {
    auto exported = gpu::ipc_handle(addr);
    if (!exported.ok()) return make_error(exported.error().code, "ipc: " + exported.error().message);
    std::memcpy(entry.ipc_handle, exported->bytes.data(), kIpcHandleBytes);
    entry.alloc_offset = exported->alloc_offset;
    entry.gpu = exported->device;
  }
  auto key = device.provider.add_region(entry);
  if (!key.ok()) return key.error();
  IpcProvider* provider = &device.provider;
  return std::unique_ptr<MemoryRegion>(std::make_unique<KeyedMemoryRegion>(
      addr, length, access, *key, kind, [provider](uint32_t freed) { provider->remove_region(freed); }));
}

bool IpcCompletionQueue::push(const Completion& completion) {
  std::lock_guard lock(mutex);
  return ring_.push(completion);
}

void IpcCompletionQueue::attach(IpcEndpoint* endpoint) {
  std::lock_guard lock(mutex);
  receivers_.push_back(endpoint);
}

void IpcCompletionQueue::detach(IpcEndpoint* endpoint) {
  std::lock_guard lock(mutex);
  std::erase(receivers_, endpoint);
}

void IpcCompletionQueue::drain_locked(IpcEndpoint& endpoint) {
  EndpointSlot& slot = endpoint.slot();
  const uint64_t tail = slot.done_tail.load(std::memory_order_acquire);
  uint64_t head = slot.done_head.load(std::memory_order_relaxed);
  for (; head < tail; ++head) {
    if (!ring_.push(slot.done[head % kDoneRing])) endpoint.overflowed();
  }
  slot.done_head.store(head, std::memory_order_release);
}

Result<size_t> IpcCompletionQueue::poll(std::span<Completion> out) {
  std::lock_guard lock(mutex);
  for (IpcEndpoint* endpoint : receivers_) drain_locked(*endpoint);
  return ring_.poll(out);
}

// ---------------------------------------------------------------------------------
// Provider

IpcProvider::IpcProvider(SharedSegment segment, uint32_t key_salt)
    : segment_(std::move(segment)), key_salt_(key_salt), device_(std::make_unique<IpcDevice>(*this)) {}

IpcProvider::~IpcProvider() = default;

Device& IpcProvider::device(size_t index) {
  if (index != 0) throw std::out_of_range("ipc has one device");
  return *device_;
}

bool IpcProvider::progress() {
  std::lock_guard lock(endpoints_mutex_);
  bool any = false;
  for (IpcEndpoint* endpoint : endpoints_) any = endpoint->progress() || any;
  return any;
}

Result<std::shared_ptr<PeerProcess>> IpcProvider::peer(const std::string& name) {
  std::lock_guard lock(peers_mutex_);
  if (auto it = peers_.find(name); it != peers_.end()) return it->second;
  auto segment = SharedSegment::attach(name);
  if (!segment.ok()) return segment.error();
  const pid_t pid = (*segment)->header.pid;
  // Whether the kernel lets this process reach the peer's memory (same user, ptrace
  // rules): asked once here, so that operations never fail for it later.
  uint64_t probe = 0;
  iovec local{&probe, sizeof probe};
  iovec remote{reinterpret_cast<void*>((*segment)->header.probe_addr), sizeof probe};
  if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != sizeof probe || probe != kSegmentMagic) {
    return make_error(ErrorCode::kUnavailable, "ipc: cannot reach the memory of process " + std::to_string(pid) +
                                                   ": " + std::strerror(errno) +
                                                   " (another user, or ptrace restrictions: kernel.yama.ptrace_scope)");
  }
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  auto process = std::make_shared<PeerProcess>(std::move(segment).value(), pid, pidfd);
  peers_.emplace(name, process);
  return process;
}

Result<uint32_t> IpcProvider::add_region(const RegionEntry& filled) {
  std::lock_guard lock(tables_mutex_);
  uint32_t slot;
  if (!free_regions_.empty()) {
    slot = free_regions_.back();
    free_regions_.pop_back();
  } else if (used_regions_ < kMaxRegions) {
    slot = used_regions_++;
  } else {
    return make_error(ErrorCode::kResourceExhausted,
                      "ipc: registration table full (" + std::to_string(kMaxRegions) + " regions)");
  }
  const uint32_t key = make_key(key_salt_, slot, ++region_generations_[slot]);
  RegionEntry& entry = segment_->regions[slot];
  entry.pd_id = filled.pd_id;
  entry.access = filled.access;
  entry.kind = filled.kind;
  entry.gpu = filled.gpu;
  entry.addr = filled.addr;
  entry.length = filled.length;
  entry.alloc_offset = filled.alloc_offset;
  std::memcpy(entry.ipc_handle, filled.ipc_handle, kIpcHandleBytes);
  entry.gate.id.store(key);  // publishes the fields above
  return key;
}

void IpcProvider::remove_region(uint32_t key) {
  const uint32_t slot = key_slot(key);
  retire(segment_->regions[slot].gate);
  std::lock_guard lock(tables_mutex_);
  free_regions_.push_back(slot);
}

Result<std::pair<uint32_t, EndpointSlot*>> IpcProvider::add_endpoint() {
  std::lock_guard lock(tables_mutex_);
  for (uint32_t slot = 0; slot < kMaxEndpoints; ++slot) {
    if (endpoint_used_[slot]) continue;
    endpoint_used_[slot] = true;
    // Ids are never reused, so the address of a destroyed endpoint stays dead.
    const uint32_t id = slot + 1 + kMaxEndpoints * endpoint_generations_[slot]++;
    return std::make_pair(id, &segment_->endpoints[slot]);
  }
  return make_error(ErrorCode::kResourceExhausted, "ipc: " + std::to_string(kMaxEndpoints) + " endpoints already");
}

void IpcProvider::list_endpoint(IpcEndpoint* endpoint) {
  std::lock_guard lock(endpoints_mutex_);
  endpoints_.push_back(endpoint);
  endpoint->slot().gate.id.store(endpoint->id());
}

void IpcProvider::unlist_endpoint(IpcEndpoint* endpoint) {
  std::lock_guard lock(endpoints_mutex_);
  std::erase(endpoints_, endpoint);
}

void IpcProvider::remove_endpoint(uint32_t id) {
  const uint32_t slot = (id - 1) % kMaxEndpoints;
  EndpointSlot& s = segment_->endpoints[slot];
  retire(s.gate);
  // Peers no longer enter it: reset it for the next endpoint.
  s.peer_pid.store(0);
  s.peer_endpoint.store(0);
  s.peer_salt.store(0);
  s.error_requested.store(0);
  s.recv_head.store(0);
  s.recv_tail.store(0);
  s.done_head.store(0);
  s.done_tail.store(0);
  std::lock_guard lock(tables_mutex_);
  endpoint_used_[slot] = false;
}

Result<std::unique_ptr<Provider>> open_provider() {
  static std::atomic<uint32_t> opened{0};
  // A salt per provider, so that keys of different providers differ: distinct for the
  // providers of one process, random between processes.
  static const uint64_t base = splitmix64(static_cast<uint64_t>(getpid()) ^ SteadyClock().now_ns());
  const uint32_t salt = 1 + static_cast<uint32_t>((base + opened.fetch_add(1)) % 255);
  auto segment = SharedSegment::create(salt);
  if (!segment.ok()) return segment.error();
  return std::unique_ptr<Provider>(std::make_unique<IpcProvider>(std::move(segment).value(), salt));
}

}  // namespace ferry::ipc
