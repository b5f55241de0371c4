// World: a replay's engines over its fabric (emu, sim, tcp or verbs behind the Cluster
// seam), driven by one thread, and what only a replay needs beside them: the groups and
// symmetric regions workloads share, the NIC timelines, the bounds of a run and the
// progress tick.
//
// Rank r is GPU r % gpus_per_node of cluster node r / gpus_per_node; its engine opens the
// fabric node the scenario's mapping gives it (fabric_mapping.h) and uses every NIC of
// that node as a rail, or with `rail_aligned` only its own GPU's NICs (rails_of_gpu).
//
// One process may host every node (emu, sim, and tcp or verbs by default), or only one
// (a NodeLink to the other nodes' processes, docs/deployment.md): then only its ranks
// are local(), only they have engines, each with its own DirectoryExchange, and
// registered()/import()/symmetric() hand region descriptors to the other processes
// through the link. Runners call every World method for every rank in the same order in
// every process, and start and check tasks only for local ranks.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tools/ferry/replay/nic_timeline.h"
#include "tools/ferry/replay/node_link.h"
#include "transport/cluster.h"
#include "transport/engine/engine.h"
#include "transport/engine/engine_cluster.h"
#include "transport/engine/rail_subset.h"
#include "transport/result.h"
#include "transport/workloads/group.h"

namespace ferry::replay {

// A registered buffer of one rank: its bytes where the rank is local, else only its name
// (rank and number), which another process's rank imports it by.
struct Buffer {
  uint32_t rank = 0;
  uint64_t id = 0;
  uint8_t* data = nullptr;  // null unless rank is local
};

class World {
 public:
  // `rank_nodes[r]`: the fabric node rank r's engine opens (ignored for ranks not local).
  // `link`: the other nodes' processes; null when this process hosts every node.
  World(std::unique_ptr<Cluster> fabric, const EngineConfig& engine_config, const std::vector<uint32_t>& rank_nodes,
        uint32_t gpus_per_node, bool rail_aligned, NodeLink* link = nullptr);
  ~World();

  VoidResult opened() const;
  Cluster& fabric() { return *fabric_; }
  // Rank `rank`'s engine: only a local rank has one.
  Engine& engine(uint32_t rank) { return *engines_.at(rank); }
  uint32_t size() const { return static_cast<uint32_t>(engines_.size()); }
  // Whether this process hosts the rank.
  bool local(uint32_t rank) const { return link_ == nullptr || rank / gpus_ == link_->node(); }
  // Whether any of `ranks` is local.
  bool any_local(const std::vector<uint32_t>& ranks) const;
  NodeLink* link() { return link_; }
  // Replay time: nanoseconds of the fabric's clock since the world was built.
  uint64_t now_ns() const { return fabric_->now_ns() - origin_ns_; }
  // A time of replay time on the fabric's clock (for Cluster::at).
  uint64_t fabric_ns(uint64_t replay_ns) const { return origin_ns_ + replay_ns; }
  // A timestamp of an engine's clock (the fabric's) as replay time.
  uint64_t replay_ns(uint64_t engine_ns) const { return engine_ns > origin_ns_ ? engine_ns - origin_ns_ : 0; }

  // Drives every local engine and the fabric until done() holds or (virtual) time passes
  // `horizon_ns` or wall time passes `wall_deadline` or a peer process is lost (lost()
  // says which); returns done(). An idle fabric moves at most to `wake_at_ns`, so that a
  // wait for a time ends on it, not past it.
  bool run_until(const std::function<bool()>& done, uint64_t horizon_ns,
                 std::chrono::steady_clock::time_point wall_deadline, uint64_t wake_at_ns = UINT64_MAX);
  // One round of every local engine (and a wall-clock fabric): what waits on the other
  // processes keep doing, so that their engines' handshakes and transfers go on.
  void drive();
  // Called every few hundred rounds of run_until (the progress display).
  void on_tick(std::function<void()> tick) { tick_ = std::move(tick); }
  // Why a peer process is known lost, or empty.
  std::string lost() const { return link_ ? link_->lost() : std::string(); }

  // Takes a last sample of the NICs' counters: call once the run is over.
  void finish_timelines() { sample_nics(now_ns()); }
  const NicRecorder& nics() const { return nics_; }

  // Starts workload `index`: numbers its buffers and meetings afresh, so that a process
  // hosting none of a workload's ranks may skip it.
  void begin_workload(uint32_t index);

  // The groups of one set of ranks, one per member (null for members of other
  // processes), kept for the whole replay so that notification tags keep counting
  // across workloads over the same ranks.
  std::vector<std::unique_ptr<Group>>& groups(const std::vector<uint32_t>& ranks);

  // A registered buffer of `bytes` on each of `ranks`, each imported by the others;
  // the memory lives as long as the world. Members of other processes get empty views.
  Result<SymmetricRegion*> symmetric(const std::vector<uint32_t>& ranks, uint64_t bytes);
  // A registered buffer on one rank (its descriptor goes to the other processes).
  Result<Buffer> registered(uint32_t rank, uint64_t bytes);
  // Imports `buffer` for the local rank `importer`; waits (bounded) for the descriptor of
  // a buffer of another process.
  Result<RemoteRegion> import(uint32_t importer, const Buffer& buffer);
  // Waits until every process hosting one of `ranks` got here with the same `key` (within
  // the current workload); at once when they are all local.
  VoidResult meet(const std::vector<uint32_t>& ranks, uint64_t key, const std::string& what);

 private:
  void sample_nics(uint64_t counted_at_ns);

  std::unique_ptr<Cluster> fabric_;
  NodeLink* link_;
  uint32_t gpus_;
  uint64_t origin_ns_;
  InProcessExchange in_process_;  // when every rank is local
  std::vector<std::unique_ptr<Exchange>> exchanges_;  // per local rank, across processes
  std::vector<std::unique_ptr<RailSubset>> views_;
  std::vector<std::unique_ptr<Engine>> engines_;  // [rank]; null when not local
  std::vector<VoidResult> open_results_;
  std::vector<std::pair<std::vector<uint32_t>, std::unique_ptr<std::vector<std::unique_ptr<Group>>>>> groups_;
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
  uint32_t workload_ = 0;
  std::vector<uint64_t> registrations_;  // [rank]: buffers registered in this workload
  std::map<std::pair<uint32_t, uint64_t>, std::vector<uint8_t>> descriptors_;  // (rank, id): descriptor
  std::vector<std::unique_ptr<std::vector<SymmetricRegion>>> regions_;
  std::vector<std::vector<uint32_t>> rails_;  // [rank]: its rails' NICs of its cluster node
  NicRecorder nics_;
  std::function<void()> tick_;
};

}  // namespace ferry::replay
