// How a testing::Cluster is set up from a few knobs: ranks, rails, mode, seed, loss.
// Shared by the tests' World, the workloads' harnesses and the sweeps of `ferry bench`.
#pragma once

#include <cstdint>
#include <vector>

#include "emu/fabric.h"
#include "transport/engine/engine.h"

namespace ferry::testing {

struct WorldOptions {
  emu::Mode mode = emu::Mode::kDeterministic;
  EndpointKind kind = EndpointKind::kRc;
  size_t ranks = 2;
  std::vector<double> rail_gbps = {100};
  uint64_t bytes = 1 << 20;  // per rank buffer
  uint64_t seed = 1;
  double loss = 0;
  EngineConfig engine;
};

inline emu::FabricConfig fabric_config(const WorldOptions& o) {
  emu::FabricConfig c;
  c.mode = o.mode;
  c.seed = o.seed;
  c.nodes = static_cast<uint32_t>(o.ranks);
  c.nics.clear();
  for (double gbps : o.rail_gbps) {
    emu::NicConfig nic;
    nic.link_gbps = gbps;
    nic.loss_probability = o.loss;
    c.nics.push_back(nic);
  }
  return c;
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

}  // namespace ferry::testing
