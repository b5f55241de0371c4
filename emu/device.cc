// Devices, protection domains, memory regions and completion queues of the emulator.
#include <string>

#include "emu/internal.h"

namespace ferry::emu {

EmuDevice::EmuDevice(FabricImpl& fabric, uint32_t node, uint32_t nic, const NicConfig& config)
    : fabric(fabric), node(node), nic(nic), config(config) {
  attributes_.name = "emu:n" + std::to_string(node) + "/nic" + std::to_string(nic);
  attributes_.vendor = "ferry-emu";
  attributes_.link_gbps = config.link_gbps;
  attributes_.mtu = config.mtu;
  attributes_.max_sge = config.max_sge;
  attributes_.ordered = config.ordered;
  attributes_.unordered = config.unordered;
  attributes_.supports_rdma_read = config.supports_rdma_read;
  attributes_.numa_node = 0;
  loss_probability.store(config.loss_probability);
}

Result<std::unique_ptr<ProtectionDomain>> EmuDevice::create_protection_domain() {
  if (dead.load()) return make_error(ErrorCode::kUnavailable, attributes_.name + " is dead");
  return std::unique_ptr<ProtectionDomain>(
      std::make_unique<EmuProtectionDomain>(*this, fabric.next_pd_id()));
}

Result<std::unique_ptr<CompletionQueue>> EmuDevice::create_completion_queue(uint32_t depth) {
  if (depth == 0 || depth > attributes_.max_cqe) {
    return make_error(ErrorCode::kOutOfRange,
                      "completion queue depth " + std::to_string(depth) + " is not in [1, " +
                          std::to_string(attributes_.max_cqe) + "]");
  }
  return std::unique_ptr<CompletionQueue>(std::make_unique<EmuCompletionQueue>(fabric, depth));
}

const MrEntry* EmuDevice::lookup(uint32_t key) const {
  const uint32_t slot = (key >> 8) - 1;  // key 0 wraps to a huge slot: not found
  if (slot >= regions_.size()) return nullptr;
  const MrEntry& entry = regions_[slot];
  return entry.live && entry.key == key ? &entry : nullptr;
}

uint32_t EmuDevice::add_region(uint64_t addr, uint64_t length, uint32_t access, uint32_t pd_id, MemoryKind kind) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(regions_.size());
    regions_.emplace_back();
  }
  MrEntry& entry = regions_[slot];
  const uint32_t generation = ((entry.key & 0xff) + 1) & 0xff;
  entry = MrEntry{addr, length, access, pd_id, ((slot + 1) << 8) | generation, true, kind};
  if (kind == MemoryKind::kDevice) fabric.gpu_regions.fetch_add(1);
  return entry.key;
}

void EmuDevice::remove_region(uint32_t key) {
  const uint32_t slot = (key >> 8) - 1;
  if (slot >= regions_.size() || regions_[slot].key != key) return;
  regions_[slot].live = false;
  if (regions_[slot].kind == MemoryKind::kDevice) fabric.gpu_regions.fetch_sub(1);
  free_slots_.push_back(slot);
}

Result<std::unique_ptr<MemoryRegion>> EmuProtectionDomain::register_memory(void* addr,
                                                                           size_t length,
                                                                           uint32_t access,
                                                                           MemoryKind kind) {
  if (addr == nullptr || length == 0) {
    return make_error(ErrorCode::kInvalidArgument, "register_memory needs a non-null, non-empty range");
  }
  // GPU memory moves with the CUDA copy engines; the kind must be what the memory is.
  if (auto kind_ok = check_memory_kind(addr, length, kind); !kind_ok.ok()) {
    return make_error(kind_ok.error().code, "emu: " + kind_ok.error().message);
  }
  if (access & ~(kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead)) {
    return make_error(ErrorCode::kInvalidArgument, "unknown access flags");
  }
  // As in verbs, remote write needs local write.
  if ((access & kAccessRemoteWrite) && !(access & kAccessLocalWrite)) {
    return make_error(ErrorCode::kInvalidArgument, "remote write access requires local write access");
  }
  if (device.dead.load()) return make_error(ErrorCode::kUnavailable, device.attributes().name + " is dead");
  std::unique_lock lock(device.fabric.tables);
  const uint32_t key = device.add_region(reinterpret_cast<uint64_t>(addr), length, access, id, kind);
  return std::unique_ptr<MemoryRegion>(
      std::make_unique<EmuMemoryRegion>(device, addr, length, access, key, kind));
}

EmuMemoryRegion::~EmuMemoryRegion() {
  std::unique_lock lock(device_.fabric.tables);
  device_.remove_region(key_);
}

EmuCompletionQueue::EmuCompletionQueue(FabricImpl& fabric, uint32_t depth)
    : fabric_(fabric), ring_(depth) {}

bool EmuCompletionQueue::push(const Completion& completion) {
  std::lock_guard lock(mutex_);
  return ring_.push(completion);
}

Result<size_t> EmuCompletionQueue::poll(std::span<Completion> out) {
  if (!fabric_.deterministic()) fabric_.run_due();
  std::lock_guard lock(mutex_);
  return ring_.poll(out);
}

}  // namespace ferry::emu
