#include "tools/ferry/replay/workload_runner.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "scenarios/units.h"

namespace ferry::replay {

using namespace scenarios;

namespace {

// Function-local: runners register from their files' static initialisers, in any order.
std::map<WorkloadKind, std::unique_ptr<WorkloadRunner>>& registry() {
  static std::map<WorkloadKind, std::unique_ptr<WorkloadRunner>> runners;
  return runners;
}

}  // namespace

bool register_workload(std::unique_ptr<WorkloadRunner> runner) {
  const WorkloadKind kind = runner->kind();
  if (!registry().emplace(kind, std::move(runner)).second) {
    throw std::logic_error("two workload runners registered for " + kind_name(kind));
  }
  return true;
}

const WorkloadRunner* find_runner(WorkloadKind kind) {
  const auto found = registry().find(kind);
  return found == registry().end() ? nullptr : found->second.get();
}

const WorkloadRunner& runner_for(const WorkloadSpec& workload) {
  const WorkloadRunner* runner = find_runner(workload.kind());
  if (runner == nullptr) throw std::logic_error("no runner registered for workload kind " + kind_name(workload.kind()));
  return *runner;
}

std::string kind_name(WorkloadKind kind) {
  for (const auto& n : kWorkloadNames) {
    if (n.value == kind) return std::string(n.name);
  }
  return "?";
}

WorkloadPlan plan_scenario(const Scenario& scenario) {
  WorkloadPlan total;
  total.ranks = 1;
  for (const WorkloadSpec& w : scenario.workloads) {
    const WorkloadPlan p = runner_for(w).plan(scenario, w);
    total.ranks = std::max(total.ranks, p.ranks);
    total.estimated_bytes += p.estimated_bytes;
    total.rail_aligned |= p.rail_aligned;
  }
  return total;
}

bool RunContext::run(const std::function<bool()>& done, uint64_t wake_at_ns) {
  if (world.run_until(done, world.now_ns() + horizon_ns, wall_deadline, wake_at_ns)) return true;
  stuck = true;
  if (const std::string lost = world.lost(); !lost.empty()) {
    report.errors.push_back(lost);
    return false;
  }
  report.errors.push_back("did not finish within its bounds (virtual time " +
                          std::to_string(horizon_ns / 1'000'000'000) + " s or the wall-clock limit)");
  return false;
}

bool RunContext::takes_part(const std::vector<uint32_t>& ranks) {
  if (world.any_local(ranks)) return true;
  report.planned = 0;
  report.note = "no rank of this node takes part";
  return false;
}

bool RunContext::meet(const std::vector<uint32_t>& ranks, uint64_t key, const std::string& what) {
  const VoidResult met = world.meet(ranks, key, what);
  if (met.ok()) return true;
  error(met.error().message);
  return false;
}

void RunContext::error(const std::string& what) {
  if (report.errors.size() < 20) report.errors.push_back(what);
}

void RunContext::span(uint32_t rank, std::string name, uint64_t start_ns, uint64_t end_ns) {
  if (replay.spans.size() >= kMaxSpans) {
    ++replay.spans_dropped;
    return;
  }
  replay.spans.push_back(OperationSpan{rank, workload, std::move(name), start_ns, end_ns});
}

std::vector<uint32_t> iota_ranks(uint32_t first, uint32_t count) {
  std::vector<uint32_t> ranks(count);
  for (uint32_t i = 0; i < count; ++i) ranks[i] = first + i;
  return ranks;
}

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

std::string count_of(uint64_t count, const std::string& noun, const std::string& nouns) {
  return format_grouped(count) + " " + (count == 1 ? noun : nouns);
}

std::string count_of(uint64_t count, const std::string& noun) { return count_of(count, noun, noun + "s"); }

}  // namespace ferry::replay
