// Any fabric as a Cluster (transport/cluster.h), from a few knobs: the one place that
// knows every provider. Tests, benchmarks, the conformance suite and the qualification
// suite build their fabrics here and then drive them only through the seam; code that
// needs one provider's own settings builds emu::Fabric or sim::Simulation itself (both
// are Clusters).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/cluster.h"
#include "transport/provider.h"
#include "transport/result.h"

namespace ferry::fabrics {

// sim's leaf-spine: hosts under leaves, every leaf linked to every spine (sim/config.h).
struct LeafSpine {
  uint32_t hosts_per_leaf = 2;
  uint32_t spines = 2;
  double oversubscription = 1.0;  // leaf downlink capacity / uplink capacity, >= 1
};

struct ClusterOptions {
  // "emu" (deterministic: virtual time, seeded), "emu-fast" (real time, real threads),
  // "sim" (ns-3, virtual time), "verbs" (this host's RDMA devices, real time), "ipc"
  // (providers of this process through shared memory, real time; RC only) or "tcp"
  // (providers of this process over sockets on 127.0.0.1, real time; RC only) or "null"
  // (moves nothing: every request succeeds at once; for the engine's overhead only).
  std::string provider = "emu";
  // RC: emu offers both kinds; sim simulates RoCE RC. SRD: sim simulates EFA-like SRD.
  EndpointKind kind = EndpointKind::kRc;
  uint32_t nodes = 2;
  std::vector<double> nic_gbps = {100};  // one entry per NIC (rail) of every node
  uint64_t seed = 1;
  double loss = 0;            // per packet, every link (emu, sim)
  bool record_trace = false;  // keep every trace record (emu, sim)
  std::string verbs_device;   // verbs: only devices whose name contains this
  // emu only; unset keeps the emulator's defaults (emu/fabric.h).
  std::optional<uint64_t> emu_propagation_delay_ns;
  std::optional<uint64_t> emu_srd_reorder_window_ns;
  // sim only; unset: every NIC on one switch.
  std::optional<LeafSpine> sim_leaf_spine;
  // sim only: priority flow control (lossless switches) and DCQCN, each with sim's
  // defaults (sim/config.h); both off: drop-tail switches, lossy RoCE.
  bool sim_pfc = false;
  bool sim_dcqcn = false;
};

// The provider names as constants, for tests parameterised over providers.
inline constexpr char kEmu[] = "emu";
inline constexpr char kEmuFast[] = "emu-fast";
inline constexpr char kSim[] = "sim";
inline constexpr char kVerbs[] = "verbs";
inline constexpr char kIpc[] = "ipc";
inline constexpr char kTcp[] = "tcp";
inline constexpr char kNull[] = "null";

// The provider names make_cluster() knows, in a stable order.
const std::vector<std::string>& provider_names();

// A fabric of `options`; an error naming the option for one out of range or a fabric
// that cannot be built here (no RDMA device, a second simulation alive).
Result<std::unique_ptr<Cluster>> make_cluster(const ClusterOptions& options);

}  // namespace ferry::fabrics
