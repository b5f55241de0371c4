// Devices, protection domains, memory regions and completion queues of the emulator.
#include <algorithm>
#include <string>

#include "emu/internal.h"

namespace ferry::emu {

EmuDevice::EmuDevice(FabricImpl& fabric, uint32_t node, uint32_t nic, const NicConfig& config)
    : fabric(fabric), node(node), nic(nic), config(config) {
  attributes_.name = "emu:n" + std::to_string(node) + "/nic" + std::to_string(nic);
  attributes_.vendor = "ferry-emu";
  attributes_.link_gbps = config.link_gbps;
  attributes_.mtu = config.mtu;
  attributes_.max_sge = config.efa_constraints ? std::min(config.max_sge, kEfaMaxSge) : config.max_sge;
  attributes_.ordered = config.ordered && !config.efa_constraints;
  attributes_.unordered = config.unordered;
  attributes_.supports_rdma_read = config.supports_rdma_read;
  attributes_.numa_node = 0;
  loss_probability.store(config.loss_probability);
  tx_port.gbps = rx_port.gbps = config.link_gbps;
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

Result<std::unique_ptr<MemoryRegion>> EmuProtectionDomain::register_memory(void* addr,
                                                                           size_t length,
                                                                           uint32_t access,
                                                                           MemoryKind kind) {
  if (auto ok = check_registration(addr, length, access, kind, "emu"); !ok.ok()) return ok.error();
  if (device.dead.load()) return make_error(ErrorCode::kUnavailable, device.attributes().name + " is dead");
  std::unique_lock lock(device.fabric.tables);
  const uint32_t key = device.keys.add(reinterpret_cast<uint64_t>(addr), length, access, id, kind);
  // Copies anywhere on the fabric go through the copy engines while GPU memory is registered.
  if (kind == MemoryKind::kDevice) device.fabric.gpu_regions.fetch_add(1);
  return std::unique_ptr<MemoryRegion>(
      std::make_unique<KeyedMemoryRegion>(addr, length, access, key, kind, [nic = &device, kind](uint32_t freed) {
        std::unique_lock lock(nic->fabric.tables);
        nic->keys.remove(freed);
        if (kind == MemoryKind::kDevice) nic->fabric.gpu_regions.fetch_sub(1);
      }));
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
