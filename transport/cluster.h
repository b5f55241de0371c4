// The cluster seam: what a harness needs from a fabric it drives.
//
// Beside the provider interface (transport/provider.h), which is what one node's engine
// sees, a Cluster is the whole fabric as the program driving it sees it: its nodes and
// their providers, the clock (now, step, run until a time), faults in the fabric's own
// terms, the trace hash and per-NIC wire counters. Tests, the replay, the qualification
// suite and the swarm drive fabrics only through it; fabrics/cluster_factory.h builds one
// of any provider by name.
//
// emu and sim implement all of it. A real fabric (verbs) implements what a real fabric
// can and refuses the rest (faults, a trace) with an error naming what it cannot do.
// The seam knows nothing of scenario files: the replay maps a scenario onto it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "transport/provider.h"
#include "transport/result.h"

namespace ferry {

enum class FabricFaultKind : uint8_t {
  kLinkDown,  // a NIC's link goes down: packets to and from it are lost until kLinkUp
  kLinkUp,
  kNicDeath,  // a NIC dies for good: its endpoints flush (where the fabric can), peers time out
  kNodeLoss,  // a node vanishes silently, as a crashed host: peers time out
  kLossRate,  // per-packet loss probability `value` on a NIC's link from now on
};

const char* to_string(FabricFaultKind kind);

struct FabricFault {
  FabricFaultKind kind = FabricFaultKind::kLinkDown;
  uint32_t node = 0;
  uint32_t nic = 0;    // ignored by kNodeLoss
  double value = 0;    // kLossRate: the probability
};

// What one NIC put on and took off the wire since the cluster was built. Counters a
// fabric does not model stay 0 (docs/architecture.md lists which fabric models which).
struct NicCounters {
  uint64_t tx_bytes = 0;    // payload bytes sent, retransmissions included
  uint64_t rx_bytes = 0;    // payload bytes received
  uint64_t tx_packets = 0;
  uint64_t rx_packets = 0;
  uint64_t retransmitted_packets = 0;
  uint64_t dropped_packets = 0;  // lost on the NIC's link or dropped by a switch towards it
  uint64_t pfc_pauses = 0;
  uint64_t ecn_marks = 0;
  uint64_t cnps = 0;
};

class Cluster {
 public:
  virtual ~Cluster() = default;

  virtual const char* provider_name() const = 0;  // "emu", "sim", "verbs"
  // How the fabric runs, in a few words: "deterministic", "fast", "roce, pfc", ...
  virtual std::string mode() const = 0;

  virtual size_t node_count() const = 0;
  virtual size_t nics_per_node() const = 0;
  // The provider of one node: what that node's engines open.
  virtual Provider& node(size_t index) = 0;

  // True when time is virtual: it moves only through step(), advance() and run_until().
  virtual bool virtual_time() const = 0;
  // The fabric's clock, as its providers' clock() reads it.
  virtual uint64_t now_ns() const = 0;
  // Runs the next pending event (virtual time) or what is due (real time); false when
  // there was nothing to run.
  virtual bool step() = 0;
  // Lets the fabric move while nothing above it has work: until its next completion or
  // until limit_ns, whichever comes first; with nothing pending, virtual time then stands
  // at limit_ns. Real-time fabrics run what is due and return.
  virtual void advance(uint64_t limit_ns) = 0;
  // Runs every event due up to t_ns and leaves virtual time at t_ns (real time: what is
  // due now).
  virtual void run_until(uint64_t t_ns) = 0;
  // Calls fn at time t_ns (now, if past); fn may post work and inject faults.
  virtual void at(uint64_t t_ns, std::function<void()> fn) = 0;

  // Applies a fault now (schedule it with at() to time it). A fault the fabric cannot
  // apply, or a node or NIC it lacks, is refused with an error naming it.
  virtual VoidResult inject(const FabricFault& fault) = 0;

  // A hash of every completion and fault so far, fixed by the seed on a virtual-time
  // fabric; 0 where the fabric keeps none.
  virtual uint64_t trace_hash() const = 0;

  // One NIC's wire counters; an error for a NIC the cluster lacks.
  virtual Result<NicCounters> nic_counters(uint32_t node, uint32_t nic) const = 0;
};

}  // namespace ferry
