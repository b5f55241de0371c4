// tp_decode: every decode step all-reduces the batch's hidden states twice per layer over
// the tp ranks; the replay runs up to kMaxAllReduces of them and checks every sum.
#include <algorithm>
#include <memory>

#include "scenarios/units.h"
#include "scenarios/workload_volume.h"
#include "tools/ferry/replay/workload_runner.h"
#include "transport/engine/task.h"
#include "transport/workloads/coll/collectives.h"

namespace ferry::replay {
namespace {

using namespace scenarios;

void run_tp_decode(RunContext& c, const TpDecodeSpec& spec) {
  const uint64_t bytes = tp_decode_allreduce_bytes(spec, c.scenario.model);
  const uint64_t total = spec.tokens * tp_decode_allreduces_per_token(c.scenario.model);
  const uint64_t count = std::max<uint64_t>(1, bytes / 4);  // fp32 elements
  const uint64_t ops = std::min({total, kMaxAllReduces, c.max_operations ? c.max_operations : total});
  if (ops < total) {
    c.report.note = "replayed " + std::to_string(ops) + " of " + std::to_string(total) + " all-reduces (cap)";
  }
  c.report.planned = ops;
  const std::vector<uint32_t> ranks = iota_ranks(0, spec.tp);
  if (!c.takes_part(ranks)) return;
  std::vector<std::unique_ptr<Group>>& groups = c.world.groups(ranks);
  const uint64_t scratch = std::max<uint64_t>(8ull << 20, 4 * count * 4 * spec.tp);
  Result<SymmetricRegion*> scratch_region = c.world.symmetric(ranks, scratch);
  if (!scratch_region.ok()) return c.error(scratch_region.error().message);
  SymmetricRegion* scratch_views = *scratch_region;
  // Only this process's ranks have a communicator, data and a task.
  std::vector<uint32_t> mine;
  for (uint32_t r = 0; r < spec.tp; ++r) {
    if (c.world.local(r)) mine.push_back(r);
  }
  auto comms = std::make_unique<std::vector<std::unique_ptr<coll::Communicator>>>(spec.tp);
  auto data = std::make_unique<std::vector<std::vector<float>>>(spec.tp);
  for (uint32_t r : mine) {
    (*comms)[r] = std::make_unique<coll::Communicator>(*groups[r], scratch_views[r]);
    (*data)[r].resize(count);
  }
  if (!c.meet(ranks, 0, "tp_decode's communicators")) return;
  for (uint64_t op = 0; op < ops; ++op) {
    for (uint32_t r : mine) {
      for (uint64_t i = 0; i < count; ++i) (*data)[r][i] = static_cast<float>((r + 1) * ((i + op) % 13));
    }
    auto tasks = std::make_unique<std::vector<Task<TransferResult>>>();
    for (uint32_t r : mine) {
      tasks->push_back(coll::all_reduce(*(*comms)[r], (*data)[r].data(), count, coll::DType::kFloat32,
                                        coll::ReduceOp::kSum));
    }
    const uint64_t start = c.world.now_ns();
    for (auto& t : *tasks) t.start();
    if (!c.run([&] { return std::all_of(tasks->begin(), tasks->end(), [](auto& t) { return t.done(); }); })) {
      (void)tasks.release(), (void)comms.release(), (void)data.release();
      return;
    }
    const uint64_t end = c.world.now_ns();
    bool ok = true;
    for (size_t k = 0; k < mine.size(); ++k) {
      const TransferResult& result = (*tasks)[k].result();
      if (!result.ok()) {
        ok = false;
        c.error("all-reduce " + std::to_string(op) + ", rank " + std::to_string(mine[k]) + ": " +
                result.error().message);
      }
    }
    if (!ok) break;  // a broken communicator fails every later call
    const float sum_of_ranks = static_cast<float>(spec.tp * (spec.tp + 1) / 2);
    for (uint32_t r : mine) {
      for (uint64_t i = 0; i < count; ++i) {
        if ((*data)[r][i] != sum_of_ranks * static_cast<float>((i + op) % 13)) {
          ++c.report.verify_failures;
          c.error("all-reduce " + std::to_string(op) + ", rank " + std::to_string(r) + ": element " +
                  std::to_string(i) + " wrong");
          ok = false;
          break;
        }
      }
    }
    ++c.report.operations;
    c.report.latencies_ns.push_back(end - start);
    c.report.bytes += count * 4 * mine.size();  // every rank contributes its buffer
    for (uint32_t r : mine) c.span(r, "all_reduce " + std::to_string(op), start, end);
  }
}

class TpDecodeRunner final : public RunnerFor<TpDecodeSpec> {
  WorkloadPlan plan_spec(const Scenario& s, const TpDecodeSpec& spec) const override {
    // Both directions of every rank's buffer, for the all-reduces the replay runs at most.
    const uint64_t all_reduces = std::min<uint64_t>(kMaxAllReduces, spec.tokens * tp_decode_allreduces_per_token(s.model));
    return {spec.tp, 2 * tp_decode_allreduce_bytes(spec, s.model) * spec.tp * all_reduces, false};
  }
  std::string describe_spec(const ModelSpec& model, const TpDecodeSpec& s) const override {
    return "tp " + std::to_string(s.tp) + ", batch " + std::to_string(s.batch) + ", " +
           count_of(s.tokens, "token") + ": " +
           format_grouped(tp_decode_allreduces_per_token(model)) + " all-reduces of " +
           format_bytes(tp_decode_allreduce_bytes(s, model)) + " per token";
  }
  void run_spec(RunContext& c, const TpDecodeSpec& spec) const override { run_tp_decode(c, spec); }
};

[[maybe_unused]] const bool kRegistered = register_workload(std::make_unique<TpDecodeRunner>());

}  // namespace
}  // namespace ferry::replay
