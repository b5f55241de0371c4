#include "sim/device.h"

#include <string>

#include "sim/completion_queue.h"
#include "sim/endpoint.h"
#include "sim/rc_endpoint.h"
#include "sim/srd_endpoint.h"

namespace ferry::sim {

SimDevice::SimDevice(SimulationImpl& sim, uint32_t host, uint32_t nic)
    : sim(sim), host(host), nic(nic), index(host * sim.nics_per_host() + nic) {
  const SimulationConfig& config = sim.config;
  attributes_.name = "sim:h" + std::to_string(host) + "/nic" + std::to_string(nic);
  attributes_.vendor = "ferry-sim";
  attributes_.link_gbps = config.nics[nic].gbps;
  attributes_.mtu = config.mtu;
  attributes_.max_sge = config.max_sge;
  attributes_.ordered = config.transport == Transport::kRoceRc;
  attributes_.unordered = config.transport == Transport::kSrd;
  attributes_.numa_node = 0;
}

Result<std::unique_ptr<ProtectionDomain>> SimDevice::create_protection_domain() {
  return std::unique_ptr<ProtectionDomain>(
      std::make_unique<SimProtectionDomain>(*this, sim.next_pd_id()));
}

Result<std::unique_ptr<CompletionQueue>> SimDevice::create_completion_queue(uint32_t depth) {
  if (depth == 0 || depth > attributes_.max_cqe) {
    return make_error(ErrorCode::kOutOfRange,
                      "completion queue depth " + std::to_string(depth) + " is not in [1, " +
                          std::to_string(attributes_.max_cqe) + "]");
  }
  return std::unique_ptr<CompletionQueue>(std::make_unique<SimCompletionQueue>(depth));
}

void SimDevice::wake(SimEndpoint& endpoint) {
  if (!endpoint.in_ready_list) {
    endpoint.in_ready_list = true;
    ready_.push_back(endpoint.id());
  }
  sim.network->wake(index);
}

// Round robin, one frame per endpoint in turn. An endpoint stays in the list until it
// has nothing to send; a destroyed one is skipped (ids are never reused).
Frame* SimDevice::next_frame() {
  while (!ready_.empty()) {
    const uint32_t id = ready_.front();
    ready_.pop_front();
    SimEndpoint* endpoint = sim.endpoint(id);
    if (endpoint == nullptr) continue;
    Frame* frame = endpoint->next_frame();
    if (frame == nullptr) {
      endpoint->in_ready_list = false;
      continue;
    }
    ready_.push_back(id);
    ++wire.tx_packets;
    wire.tx_bytes += frame->payload_bytes;
    return frame;
  }
  return nullptr;
}

void SimDevice::receive(Frame* frame) {
  ++wire.rx_packets;
  wire.rx_bytes += frame->payload_bytes;
  if (frame->ecn_marked) ++wire.ecn_marks;
  SimEndpoint* endpoint = sim.endpoint(frame->dst_endpoint);
  if (endpoint != nullptr && &endpoint->device == this) endpoint->receive(*frame);
  sim.frames.put(frame);
}

Result<std::unique_ptr<MemoryRegion>> SimProtectionDomain::register_memory(void* addr,
                                                                           size_t length,
                                                                           uint32_t access,
                                                                           MemoryKind kind) {
  // GPU memory is copied with the CUDA copy engines as packets land (sim models the
  // network, not PCIe).
  if (auto ok = check_registration(addr, length, access, kind, "sim"); !ok.ok()) return ok.error();
  const uint32_t key = device.keys.add(reinterpret_cast<uint64_t>(addr), length, access, id, kind);
  return std::unique_ptr<MemoryRegion>(std::make_unique<KeyedMemoryRegion>(
      addr, length, access, key, kind, [nic = &device](uint32_t freed) { nic->keys.remove(freed); }));
}

Result<std::unique_ptr<Endpoint>> SimProtectionDomain::create_endpoint(const EndpointConfig& config) {
  const DeviceAttributes& attr = device.attributes();
  if (config.send_cq == nullptr || config.recv_cq == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "an endpoint needs a send and a recv completion queue");
  }
  if (dynamic_cast<SimCompletionQueue*>(config.send_cq) == nullptr ||
      dynamic_cast<SimCompletionQueue*>(config.recv_cq) == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "completion queues must come from a sim device");
  }
  if (config.kind == EndpointKind::kRc && !attr.ordered) {
    return make_error(ErrorCode::kUnsupported, attr.name + " offers no RC endpoints (transport is SRD)");
  }
  if (config.kind == EndpointKind::kSrd && !attr.unordered) {
    return make_error(ErrorCode::kUnsupported, attr.name + " offers no SRD endpoints (transport is RoCE RC)");
  }
  if (config.max_send_wr == 0 || config.max_send_wr > attr.max_send_wr ||
      config.max_recv_wr == 0 || config.max_recv_wr > attr.max_recv_wr) {
    return make_error(ErrorCode::kOutOfRange,
                      "max_send_wr must be in [1, " + std::to_string(attr.max_send_wr) +
                          "] and max_recv_wr in [1, " + std::to_string(attr.max_recv_wr) + "]");
  }
  SimulationImpl& sim = device.sim;
  const uint32_t id = sim.reserve_endpoint_id();
  std::unique_ptr<SimEndpoint> endpoint;
  if (config.kind == EndpointKind::kRc) {
    endpoint = std::make_unique<RcEndpoint>(*this, config, id);
  } else {
    endpoint = std::make_unique<SrdEndpoint>(*this, config, id);
  }
  sim.set_endpoint(id, endpoint.get());
  return std::unique_ptr<Endpoint>(std::move(endpoint));
}

}  // namespace ferry::sim
