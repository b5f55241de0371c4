// Core: the engines of a cluster that live in this process, as Python sees them, and the
// one lock that serialises every call into them. Either every rank's engine over one
// fabric (EngineCluster), or this process's rank only (ProcessNode), its peers in other
// processes; the rest of the package sees only ranks and engines.
//
// An Engine is driven by one thread, and over a virtual-time fabric (emu, sim) nothing
// moves unless someone runs EngineCluster::round(). So every call that posts work takes
// the lock, and every wait drives the cluster itself: it takes the lock, runs rounds
// until its operation is done, and lets go between slices so that other threads (and
// their waits) get in. The GIL is released around all of it; callbacks run inside
// round() and touch only C++ state. Across processes the clock is real time and a
// thread of Core's also drives the engine now and then, so that peers' handshakes are
// answered while Python waits on nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fabrics/cluster_factory.h"
#include "python/ferry/_native/process_node.h"
#include "transport/engine/engine_cluster.h"

namespace ferry::python {

class Core;

// One use of registered memory taken with Core::acquire: rank and range.
struct Hold {
  size_t rank = 0;
  uint64_t addr = 0;
  uint64_t bytes = 0;
};

// An operation in flight: a transfer, or a workload coroutine. Core keeps it until it
// is done (a coroutine's frame must outlive the callbacks that resume it).
class Pending {
 public:
  virtual ~Pending() = default;
  // Lock held.
  virtual bool done() const = 0;
  // Lock held, once, when done or when the cluster closes: lets go of what the operation
  // held (registrations, coroutine frames).
  virtual void settle(Core& core);
  // The cluster closed first: nothing will finish it.
  bool abandoned = false;

  // Registrations the operation took (Core::acquire) and gives back when it settles.
  std::vector<Hold> held;
};

// A range registered from Python. Several Memory objects (or a collective's buffers)
// may share one engine registration: it is deregistered when the last range goes.
struct RegisteredRange {
  uint64_t addr = 0;
  uint64_t bytes = 0;
};

class Core {
 public:
  // Every rank in this process.
  Core(const fabrics::ClusterOptions& options, const EngineConfig& config);
  // Rank options.node only; the others are peers in other processes.
  Core(const ProcessNodeOptions& options, const EngineConfig& config, uint64_t lookup_timeout_ms);
  ~Core();

  // Locks; throws FAILED_PRECONDITION once closed.
  std::unique_lock<std::mutex> lock();
  // Locks, closed or not.
  std::unique_lock<std::mutex> lock_any() { return std::unique_lock<std::mutex>(mu_); }
  // Lock held: the in-process cluster; throws FAILED_PRECONDITION for `what` when the
  // ranks live in several processes.
  EngineCluster& cluster(const char* what = "this");
  // Lock held: rank's engine; throws for a rank out of range or in another process.
  Engine& engine(size_t rank);
  size_t size() const { return size_; }
  // Whether rank's engine lives in this process.
  bool local(size_t rank) const { return rank < size_ && (!node_rank_ || *node_rank_ == rank); }
  // This process's rank when the others live in other processes.
  std::optional<size_t> node_rank() const { return node_rank_; }
  // Lock held: the node of a cluster across processes; throws for an in-process one.
  ProcessNode& node();
  // Lock held: the fabric's clock (virtual on emu and sim).
  uint64_t now_ns();
  const std::string& provider() const { return provider_; }
  bool closed() const { return closed_; }
  // Lock not held: closes once; later calls do nothing.
  void close();

  // Lock held: keeps `p` until it is done.
  void keep(std::shared_ptr<Pending> p) { pending_.push_back(std::move(p)); }
  // Lock held: keeps a workload object until the cluster closes (before the engines).
  void own(std::shared_ptr<void> workload) { workloads_.push_back(std::move(workload)); }

  // GIL released, lock not held. Runs rounds until done() holds (checked with the lock
  // held) or `budget` passed; returns done(). Throws once the cluster is closed.
  bool drive(const std::function<bool()>& done, std::chrono::duration<double> budget);

  // Lock held: registers [addr, addr+bytes) on `rank`'s engine, or counts one more user
  // of the registration already covering it. Returns the engine's registration.
  const Registration* acquire(size_t rank, void* addr, uint64_t bytes, std::optional<MemoryKind> kind);
  // Lock held: gives back one acquire() of that range; the engine deregisters when no
  // user is left. Refused (and nothing changes) while transfers use it.
  VoidResult release(const Hold& hold);
  // Lock held: whether a range acquired on `rank` holds [addr, addr+bytes).
  bool holds(size_t rank, uint64_t addr, uint64_t bytes) const;

  // Lock held: rank `to`'s import of a region of `from` (cached by descriptor bytes).
  RemoteRegion import(size_t to, size_t from, const std::vector<uint8_t>& descriptor);

 private:
  void settle_done();
  // Lock held: ends every operation and frees the engines (close()).
  void shut();
  // Lock held: one round of every local engine; false when nothing moved.
  bool round();
  // Across processes, on keeper_: drives the engine while no wait does, until close(),
  // so that peers' handshakes and notifications are answered.
  void tend();

  std::mutex mu_;
  std::string provider_;
  size_t size_ = 0;
  bool closed_ = false;
  std::optional<size_t> node_rank_;
  std::unique_ptr<EngineCluster> cluster_;
  std::unique_ptr<ProcessNode> node_;
  std::condition_variable closing_;
  std::thread keeper_;
  std::vector<std::shared_ptr<void>> workloads_;
  std::vector<std::shared_ptr<Pending>> pending_;
  // Per rank, by the engine registration's start: the ranges acquired in it, one entry
  // per use.
  std::vector<std::map<uint64_t, std::vector<RegisteredRange>>> registered_;
  std::map<std::tuple<size_t, size_t, std::vector<uint8_t>>, RemoteRegion> imports_;
};

// The rank of a peer given as an engine name ("rank<r>"); throws on an unknown one.
size_t rank_of(const Core& core, const std::string& peer);

}  // namespace ferry::python
