// World: a replay's engines over its fabric (an EngineCluster: emu, sim or verbs behind the
// Cluster seam), driven by one thread, and what only a replay needs beside them: the
// groups and symmetric regions workloads share, the NIC timelines, the bounds of a run
// and the progress tick.
//
// Rank r is GPU r % gpus_per_node of cluster node r / gpus_per_node; its engine opens the
// fabric node the scenario's mapping gives it (fabric_mapping.h) and uses every NIC of
// that node as a rail, or with `rail_aligned` only its own GPU's NICs (rails_of_gpu).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tools/ferry/replay/nic_timeline.h"
#include "transport/cluster.h"
#include "transport/engine/engine.h"
#include "transport/engine/engine_cluster.h"
#include "transport/result.h"
#include "transport/workloads/group.h"

namespace ferry::replay {

class World {
 public:
  // `rank_nodes[r]`: the fabric node rank r's engine opens.
  World(std::unique_ptr<Cluster> fabric, const EngineConfig& engine_config, const std::vector<uint32_t>& rank_nodes,
        uint32_t gpus_per_node, bool rail_aligned);
  ~World();

  VoidResult opened() const;
  Cluster& fabric() { return cluster_->fabric(); }
  Engine& engine(uint32_t rank) { return cluster_->engine(rank); }
  uint32_t size() const { return static_cast<uint32_t>(cluster_->size()); }
  // Replay time: nanoseconds of the fabric's clock since the world was built.
  uint64_t now_ns() const { return cluster_->fabric().now_ns() - origin_ns_; }
  // A time of replay time on the fabric's clock (for Cluster::at).
  uint64_t fabric_ns(uint64_t replay_ns) const { return origin_ns_ + replay_ns; }
  // A timestamp of an engine's clock (the fabric's) as replay time.
  uint64_t replay_ns(uint64_t engine_ns) const { return engine_ns > origin_ns_ ? engine_ns - origin_ns_ : 0; }

  // Drives every engine and the fabric until done() holds or (virtual) time passes
  // `horizon_ns` or wall time passes `wall_deadline`; returns done(). An idle fabric
  // moves at most to `wake_at_ns`, so that a wait for a time ends on it, not past it.
  bool run_until(const std::function<bool()>& done, uint64_t horizon_ns,
                 std::chrono::steady_clock::time_point wall_deadline, uint64_t wake_at_ns = UINT64_MAX);
  // Called every few hundred rounds of run_until (the progress display).
  void on_tick(std::function<void()> tick) { tick_ = std::move(tick); }

  // Takes a last sample of the NICs' counters: call once the run is over.
  void finish_timelines() { sample_nics(now_ns()); }
  const NicRecorder& nics() const { return *nics_; }

  // The groups of one set of ranks, one per member, kept for the whole replay so that
  // notification tags keep counting across workloads over the same ranks.
  std::vector<Group>& groups(const std::vector<uint32_t>& ranks);

  // A registered buffer of `bytes` on each of `ranks`, each imported by the others;
  // the memory lives as long as the world.
  Result<SymmetricRegion*> symmetric(const std::vector<uint32_t>& ranks, uint64_t bytes);
  // A registered buffer on one rank.
  Result<uint8_t*> registered(uint32_t rank, uint64_t bytes);
  // Imports `owner`'s registered buffer starting at `addr` for `importer`.
  Result<RemoteRegion> import(uint32_t importer, uint32_t owner, const uint8_t* addr);

 private:
  void sample_nics(uint64_t counted_at_ns);

  // Declared first, so destroyed last: the groups and regions refer to its engines.
  std::unique_ptr<EngineCluster> cluster_;
  uint64_t origin_ns_;
  std::vector<std::pair<std::vector<uint32_t>, std::unique_ptr<std::vector<Group>>>> groups_;
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
  std::vector<std::pair<const uint8_t*, std::vector<uint8_t>>> descriptors_;  // by buffer start
  std::vector<std::unique_ptr<std::vector<SymmetricRegion>>> regions_;
  std::unique_ptr<NicRecorder> nics_;
  std::function<void()> tick_;
};

}  // namespace ferry::replay
