// A switch: an ns-3 node whose ports are link devices. Frames are forwarded by their
// destination NIC; where several ports lead there (leaf uplinks), the port is chosen by
// hashing the flow (source NIC, destination NIC, entropy) with the switch's own salt:
// ECMP. Every port has a drop-tail egress queue.
//
// With congestion control on, a data frame that joins an egress queue is ECN-marked
// with a probability rising from 0 at kmin to pmax at kmax (1 above). With PFC on, the
// switch counts the bytes it buffers by the port they came in on; past xoff it pauses
// the sender at the other end of that port, below xon it resumes it.
//
// ns-3 internals: C++17 only.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/config.h"
#include "sim/ns3/link.h"

namespace ferry::sim::net {

class Switch final : public FrameSink, public QueueObserver {
 public:
  Switch(ns3::Ptr<ns3::Node> node, uint64_t salt, const SimulationConfig& config,
         LinkContext* context);

  ns3::Ptr<ns3::Node> node() const { return node_; }
  // Adds a port; returns its index.
  uint32_t add_port(ns3::Ptr<LinkDevice> device);
  // Frames for `dst_nic` may leave through `port`; several ports make an ECMP group.
  void add_route(uint32_t dst_nic, uint32_t port);
  // The stream that ECN marking draws from.
  void set_marking_stream(ns3::Ptr<ns3::UniformRandomVariable> stream) { marking_ = stream; }

  void on_frame(LinkDevice& device, Frame* frame) override;
  void on_dequeue(LinkDevice& device, const Frame& frame) override;

 private:
  uint32_t pick_port(const Frame& frame) const;
  bool draw_mark(uint64_t queued_bytes);
  void pause_upstream(uint32_t port, bool pause);

  ns3::Ptr<ns3::Node> node_;
  uint64_t salt_;
  uint64_t port_buffer_bytes_;
  CongestionConfig congestion_;
  PfcConfig pfc_;
  LinkContext* context_;
  ns3::Ptr<ns3::UniformRandomVariable> marking_;
  std::vector<ns3::Ptr<LinkDevice>> ports_;
  std::vector<std::vector<uint32_t>> routes_;  // by destination NIC
  std::vector<uint64_t> ingress_bytes_;        // PFC: buffered here, by the port they came in on
  std::vector<bool> upstream_paused_;
};

}  // namespace ferry::sim::net
