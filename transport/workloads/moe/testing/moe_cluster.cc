#include "transport/workloads/moe/testing/moe_cluster.h"

#include <algorithm>
#include <stdexcept>

#include "transport/engine/testing/world.h"

namespace ferry::moe::testing {
namespace {

::ferry::testing::WorldOptions world_options(const MoeClusterOptions& o) {
  ::ferry::testing::WorldOptions w;
  w.provider = o.provider;
  w.kind = o.kind;
  w.ranks = o.ranks;
  w.rail_gbps = o.rail_gbps;
  w.seed = o.seed;
  w.loss = o.loss;
  w.engine = o.engine;
  return w;
}

uint64_t region_bytes(const MoeClusterOptions& o) {
  auto bytes = ExpertParallel::region_bytes(o.moe, o.ranks);
  if (!bytes.ok()) throw std::runtime_error(bytes.error().to_string());
  return *bytes;
}

bool skipped(const std::vector<uint32_t>& skip, uint32_t rank) {
  return std::find(skip.begin(), skip.end(), rank) != skip.end();
}

void check(const VoidResult& r) {
  if (!r.ok()) throw std::runtime_error(r.error().to_string());
}

}  // namespace

void RankTasks::start(uint32_t rank, Task<VoidResult> task) {
  tasks_.at(rank).emplace(std::move(task));
  tasks_[rank]->start();
}

bool RankTasks::done() const {
  return std::all_of(tasks_.begin(), tasks_.end(), [](const auto& t) { return !t || t->done(); });
}

MoeCluster::MoeCluster(const MoeClusterOptions& options)
    : cluster_(::ferry::testing::make_fabric(world_options(options)),
               ::ferry::testing::engine_config(world_options(options))),
      groups_(::ferry::testing::make_groups(cluster_)),
      region_(cluster_, region_bytes(options), options.moe.memory),
      hidden_(options.ranks),
      outputs_(options.ranks),
      combined_(options.ranks) {
  if (!cluster_.opened().ok()) throw std::runtime_error(cluster_.opened().error().to_string());
  for (uint32_t r = 0; r < size(); ++r) {
    auto ep = ExpertParallel::create(groups_[r], options.moe, region_.view(r));
    if (!ep.ok()) throw std::runtime_error(ep.error().to_string());
    ranks_.push_back(std::move(*ep));
  }
}

std::vector<RankInputs> MoeCluster::make_inputs(Routing routing, uint32_t tokens, uint64_t seed) const {
  std::vector<RankInputs> inputs;
  for (uint32_t r = 0; r < size(); ++r) inputs.push_back(testing::make_inputs(geometry(), routing, r, tokens, seed));
  return inputs;
}

std::vector<uint8_t> MoeCluster::received_rows(uint32_t r) const {
  const std::span<const uint8_t> rows = ranks_.at(r)->received().all_tokens();
  std::vector<uint8_t> out(rows.size());
  check(::ferry::gpu::copy(out.data(), rows.data(), rows.size(), memory()));
  return out;
}

template <typename T>
std::span<const T> MoeCluster::placed(std::span<const T> values, ::ferry::gpu::DeviceBuffer& copy) const {
  if (memory() == MemoryKind::kHost) return values;
  auto buffer = ::ferry::gpu::DeviceBuffer::allocate(values.size_bytes());
  if (!buffer.ok()) throw std::runtime_error(buffer.error().to_string());
  copy = std::move(buffer).value();
  check(::ferry::gpu::copy(copy.data(), values.data(), values.size_bytes()));
  return {copy.as<const T>(), values.size()};
}

RankTasks MoeCluster::dispatch(const std::vector<RankInputs>& inputs, const std::vector<uint32_t>& skip) {
  RankTasks tasks(size());
  for (uint32_t r = 0; r < size(); ++r) {
    if (skipped(skip, r)) continue;
    tasks.start(r,
                rank(r).dispatch(inputs[r].topk, inputs[r].weights, placed(std::span(inputs[r].hidden), hidden_[r])));
  }
  return tasks;
}

RankTasks MoeCluster::combine(const std::vector<RankInputs>& inputs,
                              const std::vector<std::vector<uint16_t>>& expert_outputs,
                              std::vector<std::vector<uint16_t>>* combined, const std::vector<uint32_t>& skip) {
  RankTasks tasks(size());
  combined->resize(size());
  for (uint32_t r = 0; r < size(); ++r) {
    (*combined)[r].assign(inputs[r].tokens * uint64_t{geometry().hidden()}, 0);
    if (skipped(skip, r)) continue;
    std::span<uint16_t> out = (*combined)[r];
    if (memory() == MemoryKind::kDevice) {
      placed(std::span<const uint16_t>(out), combined_[r]);  // zeros, as on the host
      out = {combined_[r].as<uint16_t>(), out.size()};
    }
    tasks.start(r, rank(r).combine(placed(std::span(expert_outputs[r]), outputs_[r]), out));
  }
  return tasks;
}

void MoeCluster::fetch_combined(std::vector<std::vector<uint16_t>>* combined) const {
  if (memory() == MemoryKind::kHost) return;
  for (uint32_t r = 0; r < size(); ++r) {
    std::vector<uint16_t>& out = (*combined)[r];
    if (combined_[r].size() != out.size() * sizeof(uint16_t)) throw std::logic_error("no combine of this size ran");
    check(::ferry::gpu::copy(out.data(), combined_[r].data(), combined_[r].size()));
  }
}

bool MoeCluster::drain(const std::vector<uint32_t>& skip) {
  return cluster_.run_until([&] {
    for (uint32_t r = 0; r < size(); ++r) {
      if (!skipped(skip, r) && cluster_.engine(r).transfers_in_flight() > 0) return false;
    }
    return true;
  });
}

std::string MoeCluster::cycle(const std::vector<RankInputs>& inputs, std::vector<std::vector<uint16_t>>* combined_out) {
  const Reference reference(geometry(), inputs);
  RankTasks dispatched = dispatch(inputs);
  if (!finish(dispatched)) return "dispatch did not finish";
  std::vector<std::vector<uint16_t>> outputs(size());
  for (uint32_t r = 0; r < size(); ++r) {
    VoidResult result = dispatched.result(r);
    if (!result.ok()) return result.error().to_string();
    const std::vector<uint8_t> rows = received_rows(r);
    std::string problem = reference.check_dispatch(r, rank(r).received(), rows);
    if (!problem.empty()) return problem;
    reference.run_experts(r, rank(r).received(), rows, &outputs[r]);
  }
  std::vector<std::vector<uint16_t>> combined;
  RankTasks combining = combine(inputs, outputs, &combined);
  if (!finish(combining)) return "combine did not finish";
  fetch_combined(&combined);
  for (uint32_t r = 0; r < size(); ++r) {
    VoidResult result = combining.result(r);
    if (!result.ok()) return result.error().to_string();
    std::string problem = reference.check_combine(r, combined[r]);
    if (!problem.empty()) return problem;
  }
  if (combined_out != nullptr) *combined_out = std::move(combined);
  return {};
}

}  // namespace ferry::moe::testing
