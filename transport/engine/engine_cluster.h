// EngineCluster: one engine per rank over any fabric (transport/cluster.h), all peers of
// each other, driven by one thread. The harness of the engine's and the workloads' tests,
// of the benchmarks and of the replay; fabrics/cluster_factory.h builds the fabric.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "transport/cluster.h"
#include "transport/engine/engine.h"
#include "transport/engine/exchange.h"
#include "transport/engine/rail_subset.h"
#include "transport/result.h"

namespace ferry {

// "rank<r>": the name of rank r's engine in the exchange.
std::string rank_name(size_t rank);

// Where one rank's engine runs.
struct RankPlacement {
  uint32_t node = 0;
  std::vector<uint32_t> rails;  // NIC indices of the node this rank's engine uses; empty = every NIC
};

class EngineCluster {
 public:
  // One engine per rank over `fabric` (rank r on node r when placement is empty), all
  // peers of each other over an InProcessExchange.
  EngineCluster(std::unique_ptr<Cluster> fabric, const EngineConfig& config,
                std::vector<RankPlacement> placement = {});
  ~EngineCluster();  // engines die before the fabric

  EngineCluster(const EngineCluster&) = delete;
  EngineCluster& operator=(const EngineCluster&) = delete;

  // Ok when every engine opened; else the error of the first rank that failed, naming it.
  VoidResult opened() const;
  Cluster& fabric() { return *fabric_; }
  Engine& engine(size_t rank) { return *engines_.at(rank); }
  size_t size() const { return engines_.size(); }
  InProcessExchange& exchange() { return exchange_; }
  const RankPlacement& placement(size_t rank) const { return placement_.at(rank); }

  // One round: every engine progresses; when none did, the fabric advances (to its next
  // completion, at most idle_tick_ns and at most to advance_limit_ns, so that deadlines
  // expire while nothing moves). False once virtual time passed horizon_ns.
  bool round(uint64_t advance_limit_ns = UINT64_MAX);

  // Rounds until done() holds; false if it never did within the bounds (a bug must fail
  // a test, never hang it).
  bool run_until(const std::function<bool()>& done, size_t max_rounds = 20'000'000);

  uint64_t idle_tick_ns = 1'000'000;      // 1 ms of virtual time
  uint64_t horizon_ns = 120'000'000'000;  // 2 minutes of virtual time

 private:
  // Declaration order is destruction order reversed: engines, then their views of the
  // nodes, then the fabric.
  std::unique_ptr<Cluster> fabric_;
  InProcessExchange exchange_;
  std::vector<RankPlacement> placement_;
  std::vector<std::unique_ptr<RailSubset>> views_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<VoidResult> open_results_;
};

}  // namespace ferry
