// How an EngineCluster is set up from a few knobs: provider, ranks, rails, seed, loss.
// Shared by the tests' World, the workloads' harnesses and the benchmarks; the fabric
// comes from fabrics::make_cluster, so every harness runs on any provider.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "fabrics/cluster_factory.h"
#include "transport/engine/engine.h"
#include "transport/engine/engine_cluster.h"

namespace ferry::testing {

struct WorldOptions {
  std::string provider = fabrics::kEmu;  // a name of fabrics::provider_names()
  EndpointKind kind = EndpointKind::kRc;
  size_t ranks = 2;
  std::vector<double> rail_gbps = {100};
  uint64_t bytes = 1 << 20;  // per rank buffer
  MemoryKind memory = MemoryKind::kHost;  // where workload harnesses put their buffers
  uint64_t seed = 1;
  double loss = 0;
  std::optional<uint64_t> srd_reorder_window_ns;  // emu only; unset: emu's default
  std::optional<fabrics::LeafSpine> sim_leaf_spine;  // sim only; unset: one switch
  bool sim_pfc = false;    // sim only: lossless switches
  bool sim_dcqcn = false;  // sim only: ECN marking and DCQCN
  EngineConfig engine;
};

inline fabrics::ClusterOptions cluster_options(const WorldOptions& o) {
  fabrics::ClusterOptions c;
  c.provider = o.provider;
  c.kind = o.kind;
  c.nodes = static_cast<uint32_t>(o.ranks);
  c.nic_gbps = o.rail_gbps;
  c.seed = o.seed;
  c.loss = o.loss;
  c.emu_srd_reorder_window_ns = o.srd_reorder_window_ns;
  c.sim_leaf_spine = o.sim_leaf_spine;
  c.sim_pfc = o.sim_pfc;
  c.sim_dcqcn = o.sim_dcqcn;
  return c;
}

// The fabric of `o`, one node per rank; throws std::runtime_error naming what could not
// be built (harnesses build it in constructors, where a test has no Result to return).
inline std::unique_ptr<Cluster> make_fabric(const WorldOptions& o) {
  auto made = fabrics::make_cluster(cluster_options(o));
  if (!made.ok()) throw std::runtime_error("cannot build the fabric: " + made.error().to_string());
  return std::move(*made);
}

inline EngineConfig engine_config(const WorldOptions& o) {
  EngineConfig e = o.engine;
  e.endpoint_kind = o.kind;
  // Small retry timeouts keep failures quick in virtual time.
  e.endpoint.retry_count = 3;
  e.endpoint.retry_timeout_ns = 200'000;
  e.endpoint.rnr_timer_ns = 10'000;
  return e;
}

// Test-name parts: "Deterministic" (emu), "Fast" (emu-fast), else the provider's name;
// with the kind, "Deterministic_Rc", "Fast_Srd", "sim_Rc".
inline std::string provider_test_name(const std::string& provider) {
  if (provider == fabrics::kEmu) return "Deterministic";
  if (provider == fabrics::kEmuFast) return "Fast";
  return provider;
}
inline std::string provider_kind_name(const std::string& provider, EndpointKind kind) {
  return provider_test_name(provider) + "_" + (kind == EndpointKind::kRc ? "Rc" : "Srd");
}

// The in-process fabrics a workload's GPU-memory test runs on: emu (RC, SRD), emu's
// fast mode and sim.
using FabricCase = std::tuple<std::string, EndpointKind>;
inline std::vector<FabricCase> gpu_test_fabrics() {
  return {{fabrics::kEmu, EndpointKind::kRc},
          {fabrics::kEmu, EndpointKind::kSrd},
          {fabrics::kEmuFast, EndpointKind::kRc},
          {fabrics::kSim, EndpointKind::kRc}};
}
inline std::string provider_kind_name(const FabricCase& p) {
  return provider_kind_name(std::get<0>(p), std::get<1>(p));
}

// Faults in the fabric's own terms. A fabric that cannot apply one throws, which fails
// the test with the fabric's reason.
inline void inject_or_throw(Cluster& fabric, const FabricFault& fault) {
  VoidResult done = fabric.inject(fault);
  if (!done.ok()) throw std::runtime_error("cannot inject the fault: " + done.error().to_string());
}
inline void kill_nic(Cluster& fabric, uint32_t node, uint32_t nic) {
  inject_or_throw(fabric, FabricFault{FabricFaultKind::kNicDeath, node, nic});
}
inline void vanish_node(Cluster& fabric, uint32_t node) {
  inject_or_throw(fabric, FabricFault{FabricFaultKind::kNodeLoss, node});
}

// Byte i of a buffer that `rank` fills for transfer `round`.
inline uint8_t pattern_byte(size_t rank, uint64_t round, uint64_t i) {
  return static_cast<uint8_t>((i * 2654435761u >> 7) ^ (rank * 37) ^ (round * 101) ^ (i >> 12));
}

}  // namespace ferry::testing
