// WorkloadRunner: everything the replay and `ferry validate` know about one workload kind,
// in one place: how many ranks it occupies and what it moves (to size the world and the
// simulation), a one-line description (the scenario summary), and how to run it on the
// replay's world, check every byte it moved and report its figures.
//
// Each kind is one file in workloads/ that ends with its registration line:
//   [[maybe_unused]] const bool kRegistered = register_workload(std::make_unique<MyRunner>());
// and the registry, keyed by WorkloadKind, is the only dispatch on kinds (docs/architecture.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "scenarios/scenario.h"
#include "tools/ferry/replay/replay.h"
#include "tools/ferry/replay/world.h"

namespace ferry::replay {

// What a workload needs of the world before it runs.
struct WorkloadPlan {
  uint32_t ranks = 0;            // ranks it occupies, counted from rank 0
  uint64_t estimated_bytes = 0;  // a generous estimate of the payload it moves (sim sizes packets from it)
  // Its ranks use only their own GPU's NICs: an all-to-all too wide for every NIC of every
  // rank (docs/cli.md).
  bool rail_aligned = false;
};

// What a runner works with: the world, the bounds, and where its figures go.
struct RunContext {
  World& world;
  const scenarios::Scenario& scenario;
  uint64_t seed;
  uint64_t horizon_ns;
  std::chrono::steady_clock::time_point wall_deadline;
  WorkloadReport& report;
  ReplayReport& replay;
  uint32_t workload;        // index in replay.workloads
  uint64_t max_operations;  // --max-ops; 0: no cap
  // Set when tasks were left pending: their objects are leaked on purpose (callbacks may
  // still reach them) and no later workload runs on these engines.
  bool stuck = false;

  // Drives the world until done() or the bounds; false (and an error) at the bounds.
  bool run(const std::function<bool()>& done, uint64_t wake_at_ns = UINT64_MAX);
  // Whether any of `ranks` is this process's; if none is, the workload has nothing to do
  // here: planned 0 and a note. Call it after every World call whose numbering the
  // other processes share (pipeline links) and before any other.
  bool takes_part(const std::vector<uint32_t>& ranks);
  // World::meet; false (and an error) when a process did not come.
  bool meet(const std::vector<uint32_t>& ranks, uint64_t key, const std::string& what);
  // Records an error (the first 20).
  void error(const std::string& what);
  // One operation on one rank, for trace.json.
  void span(uint32_t rank, std::string name, uint64_t start_ns, uint64_t end_ns);
  // --max-ops: `count` of the scenario's `what`, or `limit` (and a note) when capped.
  template <typename Count>
  Count capped(Count count, uint64_t limit, const char* what) {
    if (max_operations == 0 || count <= limit) return count;
    report.note = "replayed " + std::to_string(limit) + " of " + std::to_string(count) + " " + what + " (--max-ops)";
    return static_cast<Count>(limit);
  }
};

class WorkloadRunner {
 public:
  virtual ~WorkloadRunner() = default;
  virtual scenarios::WorkloadKind kind() const = 0;
  virtual WorkloadPlan plan(const scenarios::Scenario& scenario, const scenarios::WorkloadSpec& workload) const = 0;
  // Its shape and what it moves, for `ferry validate`: "tp 8, batch 16, ...".
  virtual std::string describe(const scenarios::ModelSpec& model, const scenarios::WorkloadSpec& workload) const = 0;
  // Runs it (capped by c.max_operations), verifies what arrived, and fills c.report
  // (operations, planned, bytes, latencies, errors) and the spans.
  virtual void run(RunContext& c, const scenarios::WorkloadSpec& workload) const = 0;
  // Whether its report lists every request (WorkloadReport::requests).
  virtual bool lists_requests() const { return false; }
};

// The WorkloadKind of a spec type: its place in WorkloadSpec::params.
template <typename Spec, size_t I = 0>
constexpr scenarios::WorkloadKind kind_of() {
  using Params = decltype(scenarios::WorkloadSpec::params);
  if constexpr (std::is_same_v<std::variant_alternative_t<I, Params>, Spec>) {
    return static_cast<scenarios::WorkloadKind>(I);
  } else {
    return kind_of<Spec, I + 1>();
  }
}

// A runner of one spec type: implement the typed plan, describe and run.
template <typename Spec>
class RunnerFor : public WorkloadRunner {
 public:
  scenarios::WorkloadKind kind() const final { return kind_of<Spec>(); }
  WorkloadPlan plan(const scenarios::Scenario& s, const scenarios::WorkloadSpec& w) const final {
    return plan_spec(s, std::get<Spec>(w.params));
  }
  std::string describe(const scenarios::ModelSpec& m, const scenarios::WorkloadSpec& w) const final {
    return describe_spec(m, std::get<Spec>(w.params));
  }
  void run(RunContext& c, const scenarios::WorkloadSpec& w) const final { run_spec(c, std::get<Spec>(w.params)); }

 protected:
  virtual WorkloadPlan plan_spec(const scenarios::Scenario& scenario, const Spec& spec) const = 0;
  virtual std::string describe_spec(const scenarios::ModelSpec& model, const Spec& spec) const = 0;
  virtual void run_spec(RunContext& c, const Spec& spec) const = 0;
};

// Registers the runner of its kind (one per kind); true, for a namespace-scope constant.
bool register_workload(std::unique_ptr<WorkloadRunner> runner);
// The runner of `kind`; null when none is registered.
const WorkloadRunner* find_runner(scenarios::WorkloadKind kind);
// The runner of `workload`'s kind; throws std::logic_error naming the kind when none is.
const WorkloadRunner& runner_for(const scenarios::WorkloadSpec& workload);

// The kind's name in scenario files ("tp_decode", "pd_disagg", ...).
std::string kind_name(scenarios::WorkloadKind kind);

// The plans of all of a scenario's workloads together: the most ranks any occupies, the
// sum of their bytes, rail-aligned if any needs it.
WorkloadPlan plan_scenario(const scenarios::Scenario& scenario);

// Helpers the runners share.
std::vector<uint32_t> iota_ranks(uint32_t first, uint32_t count);
// A 64-bit mix (splitmix's finaliser): test patterns that differ per byte and per source.
uint64_t mix(uint64_t x);
// "1 token", "2,048 tokens": for the descriptions.
std::string count_of(uint64_t count, const std::string& noun, const std::string& nouns);
std::string count_of(uint64_t count, const std::string& noun);  // nouns: noun + "s"

}  // namespace ferry::replay
