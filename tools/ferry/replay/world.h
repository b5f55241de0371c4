// World: the fabric of a replay (emu, sim or verbs, behind ReplayFabric) and one engine
// per rank, driven by one thread. Rank r is GPU r % gpus_per_node of node
// r / gpus_per_node; its engine uses every NIC of its node as a rail, or with
// `rail_aligned` only its own GPU's NICs (rails_of_gpu).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tools/ferry/replay/nic_timeline.h"
#include "tools/ferry/replay/rail_subset.h"
#include "tools/ferry/replay/replay_fabric.h"
#include "transport/engine/engine.h"
#include "transport/engine/exchange.h"
#include "transport/workloads/group.h"

namespace ferry::replay {

inline std::string rank_name(uint32_t rank) { return "rank" + std::to_string(rank); }

class World {
 public:
  World(std::unique_ptr<ReplayFabric> fabric, const EngineConfig& engine_config, uint32_t ranks,
        uint32_t gpus_per_node, bool rail_aligned);
  ~World();

  bool opened(std::string& error) const;
  ReplayFabric& fabric() { return *fabric_; }
  Engine& engine(uint32_t rank) { return *engines_.at(rank); }
  uint32_t size() const { return static_cast<uint32_t>(engines_.size()); }
  uint64_t now_ns() const { return fabric_->now_ns(); }
  // A timestamp of an engine's clock as replay time.
  uint64_t replay_ns(uint64_t engine_ns) const {
    const uint64_t origin = fabric_->engine_origin_ns();
    return engine_ns > origin ? engine_ns - origin : 0;
  }

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
  SymmetricRegion* symmetric(const std::vector<uint32_t>& ranks, uint64_t bytes, std::string& error);
  // A registered buffer on one rank.
  uint8_t* registered(uint32_t rank, uint64_t bytes, std::string& error);
  // Imports `owner`'s registered buffer starting at `addr` for `importer`.
  bool import(uint32_t importer, uint32_t owner, const uint8_t* addr, RemoteRegion& out, std::string& error);

 private:
  void sample_nics(uint64_t counted_at_ns);

  // Declared first, so destroyed last: engines die before the fabric they run on.
  std::unique_ptr<ReplayFabric> fabric_;
  std::vector<std::unique_ptr<RailSubset>> rank_devices_;  // what each rank's engine sees
  InProcessExchange exchange_;
  std::vector<std::unique_ptr<Engine>> engines_;
  std::vector<VoidResult> open_results_;
  std::vector<std::pair<std::vector<uint32_t>, std::unique_ptr<std::vector<Group>>>> groups_;
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
  std::vector<std::pair<const uint8_t*, std::vector<uint8_t>>> descriptors_;  // by buffer start
  std::vector<std::unique_ptr<std::vector<SymmetricRegion>>> regions_;
  std::unique_ptr<NicRecorder> nics_;
  std::function<void()> tick_;
};

}  // namespace ferry::replay
