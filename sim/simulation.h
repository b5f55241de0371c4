// sim: a packet-level simulation of an RDMA cluster on ns-3, behind the provider
// interface (transport/provider.h).
//
// A Simulation is a set of hosts with NICs, joined by links and switches (one switch, or
// leaf-spine with ECMP). Each host is a Provider (host(i)) whose devices are its NICs,
// and each NIC runs a transport: RoCE RC (in-order, go-back-N with NAKs and a
// retransmission timeout) or EFA-like SRD (packets sprayed over paths, selective
// retransmission, out-of-order placement). Keys, ranges, rights and protection domains
// are checked as an HCA checks them; a refused operation never touches memory.
// Messages are cut into MTU packets that queue, serialise, propagate and get lost in
// ns-3; their bytes are copied from the sender's memory as each packet is accepted.
//
// Time is virtual (ns-3's clock): nothing moves between calls; progress() on any host,
// step(), run_until() and run() move it. One thread drives the whole simulation, and
// only one Simulation may exist at a time (ns-3's simulator is a global).
// docs/simulation.md describes the model, its parameters and its departures from NICs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "sim/config.h"
#include "transport/cluster.h"
#include "transport/provider.h"
#include "transport/provider_support/trace_record.h"

namespace ferry::sim {

struct SimulationCounters {
  uint64_t packets_sent = 0;       // every packet a NIC put on the wire
  uint64_t data_packets_sent = 0;  // of which payload (writes, sends, read responses)
  uint64_t packets_received = 0;   // packets that reached a NIC
  uint64_t packets_lost = 0;       // to link loss or a link that was down
  uint64_t packets_dropped = 0;    // to a full switch queue
  uint64_t retransmitted_packets = 0;  // data packets sent again (go-back-N, selective)
  uint64_t naks_sent = 0;              // RC sequence NAKs
  uint64_t timeouts = 0;               // retransmission timeouts that fired
  uint64_t max_switch_queue_bytes = 0;
  uint64_t ecn_marked = 0;   // packets a switch marked (congestion control on)
  uint64_t cnps_sent = 0;    // congestion notifications the receivers sent
  uint64_t pfc_pauses = 0;   // PAUSE frames the switches sent (PFC on)
  // Time devices (NICs and switch ports) spent paused by PFC, summed over devices: a
  // sender paused for 1 ms and a switch port for 2 ms make 3 ms.
  uint64_t pfc_paused_ns = 0;
};

class SimulationImpl;

// The simulation is a Cluster (transport/cluster.h): it implements the whole seam. Its
// nodes are its hosts; faults act on a host's access links (sim has no NIC or host to
// kill: NIC death is the NIC's link down for good, node loss every link of the host).
class Simulation final : public Cluster {
 public:
  // Throws std::invalid_argument for a configuration outside the documented bounds and
  // std::logic_error while another Simulation exists.
  explicit Simulation(SimulationConfig config);
  ~Simulation() override;
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  const SimulationConfig& config() const;
  size_t host_count() const;
  Provider& host(size_t index);  // throws std::out_of_range

  // Cluster
  const char* provider_name() const override { return "sim"; }
  std::string mode() const override;  // e.g. "roce, pfc, dcqcn", "srd"
  size_t node_count() const override { return host_count(); }
  size_t nics_per_node() const override { return config().nics.size(); }
  Provider& node(size_t index) override { return host(index); }
  bool virtual_time() const override { return true; }
  uint64_t now_ns() const override;
  // Runs every event of the next instant that has any; false when nothing is pending.
  bool step() override;
  // Until the next completion or limit_ns; the clock then stands at limit_ns if none came.
  void advance(uint64_t limit_ns) override;
  // Runs every event due up to t_ns and leaves the clock at t_ns.
  void run_until(uint64_t t_ns) override;
  VoidResult inject(const FabricFault& fault) override;
  Result<NicCounters> nic_counters(uint32_t node, uint32_t nic) const override;

  // Runs until nothing is pending or the clock would pass limit_ns (the clock stays at
  // the last event). True when the simulation is idle.
  bool run(uint64_t limit_ns = UINT64_MAX);
  // Like run(), but also returns as soon as an event pushed a completion; true when one
  // did. Lets a client loop poll exactly when there is something to poll.
  bool run_until_completion(uint64_t limit_ns = UINT64_MAX);
  // Calls fn at virtual time t_ns (now, if t_ns is past); fn may post work and inject
  // faults.
  void at(uint64_t t_ns, std::function<void()> fn) override;

  // Faults and link settings; std::out_of_range for a link the topology lacks.
  void set_link_up(const LinkId& link, bool up);
  void set_link_loss(const LinkId& link, double loss);
  double link_gbps(const LinkId& link) const;
  uint64_t link_delay_ns(const LinkId& link) const;

  // A hash of every completion (time, place, cookie, kind, status, size, immediate) and
  // fault so far; the records themselves when config().record_trace.
  uint64_t trace_hash() const override;
  const std::vector<TraceRecord>& trace() const;
  SimulationCounters counters() const;

 private:
  std::unique_ptr<SimulationImpl> impl_;
};

}  // namespace ferry::sim
