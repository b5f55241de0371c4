// Communicators over an in-process cluster, driven by one thread: what the collectives'
// tests and benchmark start from.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

#include "transport/engine/task.h"
#include "transport/engine/testing/world_options.h"
#include "transport/workloads/coll/communicator.h"
#include "transport/workloads/testing/symmetric.h"

namespace ferry::coll::testing {

using ferry::testing::WorldOptions;

class CollWorld {
 public:
  // options.bytes is unused: each rank gets `scratch_bytes` of symmetric scratch, in
  // options.memory.
  CollWorld(const WorldOptions& options, uint64_t scratch_bytes)
      : cluster(ferry::testing::make_fabric(options), ferry::testing::engine_config(options)),
        groups(ferry::testing::make_groups(cluster)),
        scratch(checked(cluster), scratch_bytes, options.memory) {
    for (size_t r = 0; r < cluster.size(); ++r) {
      comms.push_back(std::make_unique<Communicator>(groups[r], scratch.view(r)));
    }
  }

  uint32_t size() const { return static_cast<uint32_t>(comms.size()); }
  Communicator& comm(uint32_t rank) { return *comms.at(rank); }
  uint64_t now_ns() { return cluster.fabric().now_ns(); }

  // Starts make(rank) for every rank and drives the cluster until each is done. Returns
  // every rank's result; a task that never finished within the cluster's bounds reads
  // as a kDeadlineExceeded "never finished" (and is kept alive, so that a late callback
  // cannot resume a destroyed coroutine).
  std::vector<TransferResult> run(const std::function<Task<TransferResult>(uint32_t rank)>& make) {
    std::vector<Task<TransferResult>> tasks;
    for (uint32_t r = 0; r < size(); ++r) tasks.push_back(make(r));
    for (auto& t : tasks) t.start();
    cluster.run_until([&] {
      for (const auto& t : tasks) {
        if (!t.done()) return false;
      }
      return true;
    });
    std::vector<TransferResult> results;
    for (auto& t : tasks) {
      if (t.done()) {
        results.push_back(t.result());
      } else {
        results.push_back(make_error(ErrorCode::kDeadlineExceeded, "never finished"));
        stranded_.push_back(std::move(t));
      }
    }
    return results;
  }

  EngineCluster cluster;
  std::vector<Group> groups;
  ferry::testing::SymmetricAllocation scratch;
  std::vector<std::unique_ptr<Communicator>> comms;

 private:
  static EngineCluster& checked(EngineCluster& cluster) {
    if (!cluster.opened().ok()) throw std::runtime_error(cluster.opened().error().to_string());
    return cluster;
  }
  std::vector<Task<TransferResult>> stranded_;
};

}  // namespace ferry::coll::testing
