// A simulated NIC: a Device with its key table, and the network's view of it: it picks
// the next frame to send round-robin over its endpoints (one packet each in turn) and
// hands arriving frames to the endpoint they address.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>

#include "sim/key_table.h"
#include "sim/network.h"
#include "sim/simulation_impl.h"
#include "transport/provider.h"

namespace ferry::sim {

class SimEndpoint;

class SimDevice final : public Device, public FramePort {
 public:
  SimDevice(SimulationImpl& sim, uint32_t host, uint32_t nic);

  // Device
  const DeviceAttributes& attributes() const override { return attributes_; }
  Result<std::unique_ptr<ProtectionDomain>> create_protection_domain() override;
  Result<std::unique_ptr<CompletionQueue>> create_completion_queue(uint32_t depth) override;

  // FramePort
  Frame* next_frame() override;
  void receive(Frame* frame) override;

  // The endpoint has frames to send.
  void wake(SimEndpoint& endpoint);

  SimulationImpl& sim;
  const uint32_t host;
  const uint32_t nic;
  const uint32_t index;  // global NIC index
  KeyTable keys{kKeyGenerationBits};
  NicCounters wire;  // what this NIC put on and took off the wire (Cluster::nic_counters)

 private:
  DeviceAttributes attributes_;
  std::deque<uint32_t> ready_;  // endpoints with frames to send, by id
};

class SimProtectionDomain final : public ProtectionDomain {
 public:
  SimProtectionDomain(SimDevice& device, uint32_t id) : device(device), id(id) {}
  Result<std::unique_ptr<MemoryRegion>> register_memory(void* addr, size_t length,
                                                        uint32_t access,
                                                        MemoryKind kind) override;
  Result<std::unique_ptr<Endpoint>> create_endpoint(const EndpointConfig& config) override;

  SimDevice& device;
  const uint32_t id;
};

}  // namespace ferry::sim
