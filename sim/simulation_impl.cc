#include "sim/simulation_impl.h"

#include <stdexcept>
#include <string>

#include "sim/device.h"

namespace ferry::sim {

// ---------------------------------------------------------------------------------
// SimHost

SimHost::SimHost(SimulationImpl& sim, uint32_t index) : sim_(sim) {
  for (uint32_t nic = 0; nic < sim.nics_per_host(); ++nic) {
    devices.push_back(std::make_unique<SimDevice>(sim, index, nic));
  }
}

SimHost::~SimHost() = default;

Device& SimHost::device(size_t index) {
  if (index >= devices.size()) {
    throw std::out_of_range("sim: no device " + std::to_string(index) + " on this host");
  }
  return *devices[index];
}

const Clock& SimHost::clock() const { return sim_.clock(); }

bool SimHost::progress() { return sim_.network->step(); }

// ---------------------------------------------------------------------------------
// SimulationImpl

SimulationImpl::SimulationImpl(SimulationConfig config_in)
    : config((validate(config_in), std::move(config_in))),
      payload_per_packet_(uint64_t{config.mtu} * config.frames_per_packet) {
  network = make_ns3_network(config, frames);
  for (uint32_t h = 0; h < config.hosts; ++h) {
    hosts.push_back(std::make_unique<SimHost>(*this, h));
    for (auto& device : hosts.back()->devices) {
      devices_.push_back(device.get());
      network->attach(device->index, device.get());
    }
  }
}

// The network goes first: destroying ns-3's simulator drops events that point at NICs.
SimulationImpl::~SimulationImpl() { network.reset(); }

NicCounters SimulationImpl::nic_counters(uint32_t nic_index) const { return device(nic_index).wire; }

uint32_t SimulationImpl::packets_for(uint64_t bytes) const {
  return bytes == 0 ? 1 : static_cast<uint32_t>((bytes + payload_per_packet_ - 1) / payload_per_packet_);
}

uint32_t SimulationImpl::frames_for(uint32_t payload) const {
  return payload == 0 ? 1 : (payload + config.mtu - 1) / config.mtu;
}

uint32_t SimulationImpl::wire_bytes(uint32_t payload) const {
  return payload + frames_for(payload) * config.header_bytes;
}

void SimulationImpl::record(const TraceRecord& r) {
  hash_record(trace_hash, r);
  if (config.record_trace) trace.push_back(r);
  if (stop_on_completion_) {
    completion_seen_ = true;
    network->stop();
  }
}

void SimulationImpl::record_fault(uint32_t kind, const LinkId& link, double value) {
  hash_value(trace_hash, now_ns());
  hash_value(trace_hash, kind);
  hash_value(trace_hash, static_cast<uint8_t>(link.kind));
  hash_value(trace_hash, link.a);
  hash_value(trace_hash, link.b);
  hash_value(trace_hash, value);
}

bool SimulationImpl::run_until_completion(uint64_t limit_ns) {
  stop_on_completion_ = true;
  completion_seen_ = false;
  network->run(limit_ns);
  stop_on_completion_ = false;
  return completion_seen_;
}

}  // namespace ferry::sim
