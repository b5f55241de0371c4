// Core: one in-process cluster of engines as Python sees it, and the one lock that
// serialises every call into it.
//
// An Engine is driven by one thread, and over a virtual-time fabric (emu, sim) nothing
// moves unless someone runs EngineCluster::round(). So every call that posts work takes
// the lock, and every wait drives the cluster itself: it takes the lock, runs rounds
// until its operation is done, and lets go between slices so that other threads (and
// their waits) get in. The GIL is released around all of it; callbacks run inside
// round() and touch only C++ state.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fabrics/cluster_factory.h"
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
  Core(const fabrics::ClusterOptions& options, const EngineConfig& config);
  ~Core();

  // Locks; throws FAILED_PRECONDITION once closed.
  std::unique_lock<std::mutex> lock();
  // Locks, closed or not.
  std::unique_lock<std::mutex> lock_any() { return std::unique_lock<std::mutex>(mu_); }
  // Lock held.
  EngineCluster& cluster() { return *cluster_; }
  Engine& engine(size_t rank);
  size_t size() const { return size_; }
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

  std::mutex mu_;
  std::string provider_;
  size_t size_ = 0;
  bool closed_ = false;
  std::unique_ptr<EngineCluster> cluster_;
  std::vector<std::shared_ptr<void>> workloads_;
  std::vector<std::shared_ptr<Pending>> pending_;
  // Per rank, by the engine registration's start: the ranges acquired in it, one entry
  // per use.
  std::vector<std::map<uint64_t, std::vector<RegisteredRange>>> registered_;
  std::map<std::tuple<size_t, size_t, std::vector<uint8_t>>, RemoteRegion> imports_;
};

// Rank r's engine name ("rank<r>") from a peer given as a name or a rank; throws on an
// unknown one.
size_t rank_of(const Core& core, const std::string& peer);

}  // namespace ferry::python
