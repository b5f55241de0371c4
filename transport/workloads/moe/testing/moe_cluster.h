// MoeCluster: N ranks of one fabric, each with an engine, a group, its share of a
// symmetric receive region and an ExpertParallel, driven by one thread: the setup of
// the MoE tests and of moe_bench. With options.moe.memory = kDevice the exchange is in
// GPU memory: the calls get GPU copies of the inputs, and the checks read GPU copies back.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "transport/engine/testing/world_options.h"
#include "transport/workloads/moe/expert_parallel.h"
#include "transport/workloads/moe/testing/reference.h"
#include "transport/workloads/testing/symmetric.h"

namespace ferry::moe::testing {

struct MoeClusterOptions {
  std::string provider = fabrics::kEmu;
  EndpointKind kind = EndpointKind::kRc;
  uint32_t ranks = 2;
  uint64_t seed = 1;
  std::vector<double> rail_gbps = {100};
  double loss = 0;  // per-packet loss on every link (deterministic mode)
  // Fast mode's deadlines run on real time: a generous one, so that a loaded machine
  // cannot fail a call. Fault tests set a small one, on deterministic mode's virtual time.
  EngineConfig engine = [] {
    EngineConfig e;
    e.transfer_timeout_ns = 60'000'000'000;
    return e;
  }();
  MoeConfig moe;
};

// One call's task per rank; ranks left out are not started.
class RankTasks {
 public:
  explicit RankTasks(size_t ranks) : tasks_(ranks) {}
  void start(uint32_t rank, Task<VoidResult> task);
  bool started(uint32_t rank) const { return tasks_.at(rank).has_value(); }
  bool done() const;  // every started task
  VoidResult result(uint32_t rank) { return tasks_.at(rank)->result(); }

 private:
  std::vector<std::optional<Task<VoidResult>>> tasks_;
};

class MoeCluster {
 public:
  explicit MoeCluster(const MoeClusterOptions& options);  // throws std::runtime_error

  EngineCluster& cluster() { return cluster_; }
  Cluster& fabric() { return cluster_.fabric(); }
  uint32_t size() const { return static_cast<uint32_t>(cluster_.size()); }
  ExpertParallel& rank(uint32_t r) { return *ranks_.at(r); }
  Group& group(uint32_t r) { return groups_.at(r); }
  const MoeGeometry& geometry() const { return ranks_.front()->geometry(); }
  ::ferry::testing::SymmetricAllocation& region() { return region_; }
  // A host copy of what rank r's experts received (received().all_tokens()).
  std::vector<uint8_t> received_rows(uint32_t r) const;

  // Inputs for every rank with the same routing kind and tokens per rank.
  std::vector<RankInputs> make_inputs(Routing routing, uint32_t tokens, uint64_t seed) const;

  // Start the call on every rank not in `skip`. In GPU memory, `combined` holds the
  // results once fetch_combined() copied them back, after the calls finished.
  RankTasks dispatch(const std::vector<RankInputs>& inputs, const std::vector<uint32_t>& skip = {});
  RankTasks combine(const std::vector<RankInputs>& inputs, const std::vector<std::vector<uint16_t>>& expert_outputs,
                    std::vector<std::vector<uint16_t>>* combined, const std::vector<uint32_t>& skip = {});
  void fetch_combined(std::vector<std::vector<uint16_t>>* combined) const;
  // Runs the cluster until every started task is done; false if that never happened.
  bool finish(RankTasks& tasks) { return cluster_.run_until([&] { return tasks.done(); }); }
  // Runs until no engine outside `skip` has a transfer left (pieces of failed calls
  // settled). A vanished rank's engine never hears back from its dead NICs: skip it.
  bool drain(const std::vector<uint32_t>& skip = {});

  // Dispatch, the checks, the stand-in experts, combine, the checks: "" or the first
  // problem found. `combined`, if given, gets every rank's combined tokens.
  std::string cycle(const std::vector<RankInputs>& inputs, std::vector<std::vector<uint16_t>>* combined = nullptr);

 private:
  MemoryKind memory() const { return geometry().config().memory; }
  // `values` where the exchange is: themselves in host memory, else a GPU copy in `copy`.
  template <typename T>
  std::span<const T> placed(std::span<const T> values, ::ferry::gpu::DeviceBuffer& copy) const;

  EngineCluster cluster_;
  std::vector<Group> groups_;
  ::ferry::testing::SymmetricAllocation region_;
  std::vector<std::unique_ptr<ExpertParallel>> ranks_;
  // GPU memory: per rank, the copies the calls in flight use.
  std::vector<::ferry::gpu::DeviceBuffer> hidden_, outputs_, combined_;
};

}  // namespace ferry::moe::testing
