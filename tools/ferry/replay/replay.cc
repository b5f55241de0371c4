#include "tools/ferry/replay/replay.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "tools/ferry/replay/fabric_mapping.h"
#include "tools/ferry/replay/faults.h"
#include "tools/ferry/replay/progress.h"
#include "tools/ferry/replay/workload_runner.h"
#include "tools/ferry/replay/world.h"

namespace ferry::replay {

using Clock = std::chrono::steady_clock;
using namespace scenarios;

ReplayReport replay(const Scenario& scenario, ProviderKind provider, const ReplayOptions& options) {
  ReplayReport report;
  report.scenario = scenario.name;
  const Clock::time_point wall_start = Clock::now();
  const Clock::time_point wall_deadline =
      wall_start + std::chrono::milliseconds(static_cast<int64_t>(options.wall_limit_s * 1000));
  const WorkloadPlan plan = plan_scenario(scenario);
  report.ranks = plan.ranks;
  report.gpus_per_node = scenario.cluster.gpus_per_node;

  FabricMapping mapping =
      map_fabric(scenario, provider, options.seed, plan.ranks, plan.estimated_bytes, report.notes);
  report.seed = mapping.seed;
  report.provider = name_of(kProviderNames, provider);
  if (!mapping.fabric) {
    report.virtual_time = provider == ProviderKind::kEmu || provider == ProviderKind::kSim;
    report.errors.push_back(mapping.error);
    report.wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
    return report;
  }
  report.mode = mapping.fabric->mode();
  report.virtual_time = mapping.fabric->virtual_time();
  if (plan.rail_aligned) {
    report.notes.push_back("rail-aligned: each rank uses only its own GPU's NICs (an all-to-all over " +
                           std::string("more than ") + std::to_string(kMaxAllToAllRails) +
                           " ranks x NICs per node)");
  }
  auto world = std::make_unique<World>(std::move(mapping.fabric), mapping.engine, mapping.rank_nodes,
                                       scenario.cluster.gpus_per_node, plan.rail_aligned);
  if (const VoidResult opened = world->opened(); !opened.ok()) {
    report.errors.push_back("opening the engines: " + opened.error().to_string());
    return report;
  }
  auto faults = std::make_shared<FaultLog>();
  schedule_faults(*world, scenario.faults, mapping, faults, report.notes);

  ProgressDisplay progress(options.progress, scenario.workloads.size());
  bool stuck = false;
  for (size_t i = 0; i < scenario.workloads.size(); ++i) {
    const WorkloadSpec& w = scenario.workloads[i];
    const WorkloadRunner& runner = runner_for(w);
    WorkloadReport& wr = report.workloads.emplace_back();
    wr.name = w.name;
    wr.kind = kind_name(w.kind());
    wr.lists_requests = runner.lists_requests();
    if (stuck) {
      wr.errors.push_back("not run: an earlier workload left transfers pending");
      continue;
    }
    progress.started(i, wr.name, wr.kind);
    RunContext c{*world, scenario, report.seed, options.workload_horizon_ns, wall_deadline, wr, report,
                 static_cast<uint32_t>(i), options.max_operations};
    const uint64_t start_ns = world->now_ns();
    wr.start_ns = start_ns;
    World* w_ptr = world.get();
    world->on_tick([&progress, &wr, w_ptr, start_ns] {
      progress.update(wr.operations, wr.planned, w_ptr->now_ns() - start_ns);
    });
    const Clock::time_point start_wall = Clock::now();
    try {
      runner.run(c, w);
    } catch (const std::exception& e) {
      wr.errors.push_back(std::string("exception: ") + e.what());
    }
    world->on_tick(nullptr);
    wr.simulated_ns = world->now_ns() - start_ns;
    wr.wall_s = std::chrono::duration<double>(Clock::now() - start_wall).count();
    wr.completed = wr.errors.empty() && wr.verify_failures == 0 && wr.operations == wr.planned;
    if (!wr.completed && wr.errors.empty()) {
      wr.errors.push_back("completed " + std::to_string(wr.operations) + " of " + std::to_string(wr.planned) +
                          " operations");
    }
    stuck |= c.stuck;
    progress.finished(wr.completed, wr.operations, wr.simulated_ns, wr.wall_s);
  }
  world->finish_timelines();
  report.faults_applied = faults->applied;
  report.errors.insert(report.errors.end(), faults->errors.begin(), faults->errors.end());
  report.trace_hash = world->fabric().trace_hash();
  report.simulated_ns = world->now_ns();
  report.interval_ns = world->nics().interval_ns();
  report.nics = world->nics().timelines(report.simulated_ns);
  report.wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
  // Pending transfers may still call back into the workloads' leaked state: keep the
  // engines alive rather than tear them down under it.
  if (stuck) (void)world.release();
  return report;
}

}  // namespace ferry::replay
