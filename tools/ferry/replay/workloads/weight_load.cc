// weight_load: one root's weights broadcast to every rank (a GPU, or a node with all its
// NICs), chunk by chunk, down a chain or a k-ary tree; every rank's copy is compared with
// the root's.
#include <algorithm>
#include <cstring>
#include <memory>

#include "scenarios/units.h"
#include "scenarios/workload_volume.h"
#include "tools/ferry/replay/workload_runner.h"
#include "transport/engine/task.h"
#include "transport/workloads/weights/broadcast.h"

namespace ferry::replay {
namespace {

using namespace scenarios;

void run_weight_load(RunContext& c, const WeightLoadSpec& spec) {
  const ClusterSpec& cluster = c.scenario.cluster;
  std::vector<uint32_t> ranks;
  for (uint32_t i = 0; i < spec.ranks; ++i) {
    ranks.push_back(spec.placement == WeightPlacement::kPerNode ? i * cluster.gpus_per_node : i);
  }
  c.report.planned = 1;
  if (!c.takes_part(ranks)) return;
  Result<SymmetricRegion*> symmetric = c.world.symmetric(ranks, spec.bytes + weights::kChecksumBytes);
  if (!symmetric.ok()) return c.error(symmetric.error().message);
  SymmetricRegion* regions = *symmetric;
  // The root's weights; every receiver compares its copy with the same bytes, computed
  // where it runs.
  auto weight_byte = [](uint64_t i) { return static_cast<uint8_t>(mix(i >> 3) >> ((i & 7) * 8)); };
  if (c.world.local(ranks[0])) {
    for (uint64_t i = 0; i < spec.bytes; ++i) regions[0].local[i] = weight_byte(i);
  }
  std::vector<std::unique_ptr<Group>>& groups = c.world.groups(ranks);
  weights::BroadcastOptions options;
  options.fanout = spec.fanout;
  options.chunk_bytes = spec.chunk_bytes;
  std::vector<uint32_t> mine;  // member indices of this process's ranks
  auto tasks = std::make_unique<std::vector<Task<TransferResult>>>();
  for (uint32_t i = 0; i < ranks.size(); ++i) {
    if (!c.world.local(ranks[i])) continue;
    mine.push_back(i);
    tasks->push_back(weights::broadcast(*groups[i], 0, regions[i], spec.bytes, options));
  }
  if (!c.meet(ranks, 0, "weight_load's regions")) return;
  const uint64_t start = c.world.now_ns();
  std::vector<uint64_t> finished(mine.size(), 0);  // when each local rank's part ended
  auto all_done = [&] {
    bool all = true;
    for (size_t k = 0; k < tasks->size(); ++k) {
      if (!(*tasks)[k].done()) all = false;
      else if (finished[k] == 0) finished[k] = c.world.now_ns();
    }
    return all;
  };
  for (auto& t : *tasks) t.start();
  if (!c.run(all_done)) {
    (void)tasks.release();
    return;
  }
  for (size_t k = 0; k < mine.size(); ++k) c.span(ranks[mine[k]], "broadcast", start, std::max(start, finished[k]));
  bool ok = true;
  for (size_t k = 0; k < mine.size(); ++k) {
    const TransferResult& r = (*tasks)[k].result();
    if (!r.ok()) ok = false, c.error(rank_name(ranks[mine[k]]) + ": " + r.error().message);
  }
  // The root's bytes: its region where it is local, else computed here.
  std::vector<uint8_t> computed;
  const uint8_t* expected = regions[0].local;
  if (!c.world.local(ranks[0])) {
    computed.resize(spec.bytes);
    for (uint64_t b = 0; b < spec.bytes; ++b) computed[b] = weight_byte(b);
    expected = computed.data();
  }
  uint64_t received = 0;
  for (uint32_t i : mine) {
    if (i == 0) continue;
    ++received;
    if (std::memcmp(regions[i].local, expected, spec.bytes) != 0) {
      ++c.report.verify_failures;
      ok = false;
      c.error(rank_name(ranks[i]) + ": weights differ from the root's");
    }
  }
  if (!ok) return;
  ++c.report.operations;
  c.report.latencies_ns.push_back(c.world.now_ns() - start);
  c.report.bytes += spec.bytes * received;
}

class WeightLoadRunner final : public RunnerFor<WeightLoadSpec> {
  WorkloadPlan plan_spec(const Scenario& s, const WeightLoadSpec& spec) const override {
    // per_node: rank i is GPU 0 of node i.
    const uint32_t ranks =
        spec.placement == WeightPlacement::kPerNode ? (spec.ranks - 1) * s.cluster.gpus_per_node + 1 : spec.ranks;
    return {ranks, spec.bytes * (spec.ranks - 1), false};
  }
  std::string describe_spec(const ModelSpec&, const WeightLoadSpec& s) const override {
    const std::string receivers = s.placement == WeightPlacement::kPerNode ? "node" : "GPU";
    return format_bytes(s.bytes) + (s.bytes_from_model ? ", the model's parameters," : "") + " to each of " +
           count_of(s.ranks, receivers) + ", fanout " + std::to_string(s.fanout) + ", " +
           count_of(weight_load_chunks(s), "chunk") + " of " + format_bytes(s.chunk_bytes);
  }
  void run_spec(RunContext& c, const WeightLoadSpec& spec) const override { run_weight_load(c, spec); }
};

[[maybe_unused]] const bool kRegistered = register_workload(std::make_unique<WeightLoadRunner>());

}  // namespace
}  // namespace ferry::replay
