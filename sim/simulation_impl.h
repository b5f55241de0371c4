// The provider side of a simulation: hosts, NICs, the endpoint table, the trace, and
// the network they run on. Private to sim/.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "sim/config.h"
#include "sim/frame.h"
#include "sim/network.h"
#include "sim/simulation.h"
#include "transport/provider.h"
#include "transport/provider_support/trace_hash.h"

namespace ferry::sim {

class SimDevice;
class SimEndpoint;
class SimulationImpl;

class SimHost final : public Provider {
 public:
  SimHost(SimulationImpl& sim, uint32_t index);
  ~SimHost() override;
  const char* name() const override { return "sim"; }
  size_t device_count() const override { return devices.size(); }
  Device& device(size_t index) override;
  const Clock& clock() const override;
  bool progress() override;

  std::vector<std::unique_ptr<SimDevice>> devices;

 private:
  SimulationImpl& sim_;
};

class SimulationImpl {
 public:
  explicit SimulationImpl(SimulationConfig config);
  ~SimulationImpl();

  uint64_t now_ns() const { return network->now_ns(); }
  const Clock& clock() const { return clock_; }

  // Payload a simulated packet carries, and what a packet of `payload` bytes occupies on
  // the wire (one header per MTU frame it stands for).
  uint64_t packet_payload() const { return payload_per_packet_; }
  uint32_t packets_for(uint64_t bytes) const;
  uint32_t frames_for(uint32_t payload) const;
  uint32_t wire_bytes(uint32_t payload) const;

  // Counts of the configuration in MTU frames, as simulated packets: aggregation keeps
  // the bytes in flight and between ACKs what they are at full fidelity.
  uint32_t srd_window() const { return in_packets(config.srd_window_packets); }
  uint32_t ack_interval() const { return in_packets(config.ack_every_packets); }

  SimDevice& device(uint32_t nic_index) const { return *devices_[nic_index]; }
  NicCounters nic_counters(uint32_t nic_index) const;
  uint32_t nics_per_host() const { return static_cast<uint32_t>(config.nics.size()); }

  // Endpoint ids are never reused, so the address of a destroyed endpoint stays dead.
  uint32_t reserve_endpoint_id() {
    endpoints_.push_back(nullptr);
    return static_cast<uint32_t>(endpoints_.size());
  }
  void set_endpoint(uint32_t id, SimEndpoint* endpoint) { endpoints_[id - 1] = endpoint; }
  void remove_endpoint(uint32_t id) { endpoints_[id - 1] = nullptr; }
  SimEndpoint* endpoint(uint32_t id) const {
    return id >= 1 && id <= endpoints_.size() ? endpoints_[id - 1] : nullptr;
  }
  uint32_t next_pd_id() { return ++pd_ids_; }

  // Every pushed completion passes here: trace, and the end of run_until_completion().
  void record(const TraceRecord& record);
  void record_fault(uint32_t kind, const LinkId& link, double value);
  bool run_until_completion(uint64_t limit_ns);

  const SimulationConfig config;
  FramePool frames;
  std::unique_ptr<Network> network;
  std::vector<std::unique_ptr<SimHost>> hosts;
  SimulationCounters counters;  // the transport's own; the network keeps the rest
  uint64_t trace_hash = kTraceHashSeed;
  std::vector<TraceRecord> trace;

 private:
  class SimClock final : public Clock {
   public:
    explicit SimClock(const SimulationImpl& sim) : sim_(sim) {}
    uint64_t now_ns() const override { return sim_.now_ns(); }

   private:
    const SimulationImpl& sim_;
  };

  uint32_t in_packets(uint32_t frames) const {
    return std::max<uint32_t>(1, frames / config.frames_per_packet);
  }

  SimClock clock_{*this};
  uint64_t payload_per_packet_;
  std::vector<SimDevice*> devices_;  // by global NIC index
  std::vector<SimEndpoint*> endpoints_;
  uint32_t pd_ids_ = 0;
  bool stop_on_completion_ = false;
  bool completion_seen_ = false;
};

}  // namespace ferry::sim
