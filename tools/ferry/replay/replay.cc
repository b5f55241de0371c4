#include "tools/ferry/replay/replay.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "tools/ferry/replay/fabric_counters.h"
#include "tools/ferry/replay/fabric_mapping.h"
#include "tools/ferry/replay/faults.h"
#include "tools/ferry/replay/node_link.h"
#include "tools/ferry/replay/progress.h"
#include "tools/ferry/replay/scenario_parameters.h"
#include "tools/ferry/replay/timing_model.h"
#include "tools/ferry/replay/workload_runner.h"
#include "tools/ferry/replay/world.h"
#include "transport/wire_fields.h"

namespace ferry::replay {

using Clock = std::chrono::steady_clock;
using namespace scenarios;

namespace {

// Spread over processes: this node's link to the others, opened and greeted; null (and
// an error in the report) when that fails.
std::unique_ptr<NodeLink> join_nodes(const Scenario& scenario, ProviderKind provider, const ReplayOptions& options,
                                     const WorkloadPlan& plan, ReplayReport& report) {
  const NodeProcess& p = *options.process;
  const uint32_t nodes = scenario.cluster.nodes;
  const uint32_t gpus = std::max(1u, scenario.cluster.gpus_per_node);
  if (provider != ProviderKind::kTcp && provider != ProviderKind::kVerbs) {
    report.errors.push_back(std::string(name_of(kProviderNames, provider)) +
                            " runs every rank in one process: only tcp and verbs spread over processes");
    return nullptr;
  }
  if (uint64_t{nodes} * gpus < plan.ranks) {
    report.errors.push_back("the workloads need " + std::to_string(plan.ranks) + " ranks but the cluster's " +
                            std::to_string(nodes) + " nodes hold " + std::to_string(uint64_t{nodes} * gpus) +
                            ": no process would run the rest");
    return nullptr;
  }
  NodeLinkOptions link_options;
  link_options.node = p.node;
  link_options.nodes = nodes;
  link_options.directory = p.directory;
  link_options.cluster = p.cluster;
  link_options.host = options.fabric.host;
  link_options.peer_timeout_ms = p.peer_timeout_ms;
  link_options.fingerprint = p.fingerprint;
  link_options.label = p.label;
  auto link = NodeLink::open(link_options);
  if (!link.ok()) {
    report.errors.push_back("node " + std::to_string(p.node) + ": " + link.error().to_string());
    return nullptr;
  }
  if (auto met = (*link)->hello(nullptr); !met.ok()) {
    report.errors.push_back(met.error().message);
    return nullptr;
  }
  return std::move(link).value();
}

// The first problem of a report, for a farewell.
std::string first_problem(const ReplayReport& report) {
  if (!report.errors.empty()) return report.errors.front();
  for (const WorkloadReport& w : report.workloads) {
    if (!w.errors.empty()) return w.name + ": " + w.errors.front();
  }
  return "";
}

}  // namespace

ReplayReport replay(const Scenario& scenario, ProviderKind provider, const ReplayOptions& options) {
  ReplayReport report;
  report.scenario = scenario.name;
  const Clock::time_point wall_start = Clock::now();
  const Clock::time_point wall_deadline =
      wall_start + std::chrono::milliseconds(static_cast<int64_t>(options.wall_limit_s * 1000));
  const WorkloadPlan plan = plan_scenario(scenario);
  report.ranks = plan.ranks;
  report.gpus_per_node = scenario.cluster.gpus_per_node;
  report.provider = name_of(kProviderNames, provider);
  report.end_rank = plan.ranks;
  report.parameters = describe_scenario(scenario);

  // Spread over processes: this process maps only its node's ranks onto the fabric.
  std::unique_ptr<NodeLink> link;
  uint32_t mapped = plan.ranks;
  if (options.process) {
    report.spread = true;
    report.node = options.process->node;
    report.nodes = scenario.cluster.nodes;
    const uint32_t gpus = std::max(1u, scenario.cluster.gpus_per_node);
    report.first_rank = std::min(plan.ranks, report.node * gpus);
    report.end_rank = std::min(plan.ranks, report.first_rank + gpus);
    link = join_nodes(scenario, provider, options, plan, report);
    if (!link) {
      report.virtual_time = false;
      report.wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
      return report;
    }
    mapped = std::max(1u, report.end_rank - report.first_rank);  // a node without ranks still has a fabric
  }
  // Tells the other nodes how this one ended, and hears how they did; every return
  // after the link opened goes through it.
  auto farewell = [&] {
    if (!link) return;
    const std::string problem = first_problem(report);
    if (!link->lost().empty()) {
      // A node is gone: tell the rest, wait for no one (the loss is already reported).
      (void)link->post(link->others(), NodeLink::kFarewell, 0, NodeLink::farewell(false, problem));
      return;
    }
    auto heard = link->gather(link->others(), NodeLink::kFarewell, 0,
                              NodeLink::farewell(report.ok(), problem.empty() ? "ok" : problem), nullptr,
                              "node " + std::to_string(report.node) + " hearing the other nodes' verdicts",
                              wall_deadline);
    if (!heard.ok()) {
      report.errors.push_back(heard.error().message);
      return;
    }
    for (const auto& [n, body] : *heard) {
      const auto [ok, summary] = NodeLink::read_farewell(body);
      report.peers.push_back("node " + std::to_string(n) + ": " + (ok ? "ok" : "FAILED: " + summary));
    }
  };

  FabricMapping mapping =
      map_fabric(scenario, provider, options.seed, mapped, plan.estimated_bytes, options.fabric, report.notes);
  report.seed = mapping.seed;
  if (!mapping.fabric) {
    report.virtual_time = provider == ProviderKind::kEmu || provider == ProviderKind::kSim;
    report.errors.push_back(mapping.error);
    report.wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
    farewell();
    return report;
  }
  if (link) {
    // Node processes share their hosts' cores with each other and start each step at
    // their own pace: a transfer gets seconds, not the in-process replay's one.
    mapping.engine.transfer_timeout_ns = std::max<uint64_t>(mapping.engine.transfer_timeout_ns, kSpreadTransferTimeoutNs);
    // The mapping numbered this node's ranks from 0.
    std::vector<uint32_t> rank_nodes(plan.ranks, 0);
    for (uint32_t r = report.first_rank; r < report.end_rank; ++r) rank_nodes[r] = r - report.first_rank;
    mapping.rank_nodes = std::move(rank_nodes);
    report.notes.push_back("node " + std::to_string(report.node) + " of " + std::to_string(report.nodes) +
                           ": this process runs ranks " + std::to_string(report.first_rank) + " to " +
                           std::to_string(report.end_rank) + " (exclusive); the others run in their nodes' processes");
  }
  report.mode = mapping.fabric->mode();
  report.timing_model = timing_model_note(report.provider, report.mode);
  report.virtual_time = mapping.fabric->virtual_time();
  if (plan.rail_aligned) {
    report.notes.push_back("rail-aligned: each rank uses only its own GPU's NICs (an all-to-all over " +
                           std::string("more than ") + std::to_string(kMaxAllToAllRails) +
                           " ranks x NICs per node)");
  }
  auto world = std::make_unique<World>(std::move(mapping.fabric), mapping.engine, mapping.rank_nodes,
                                       scenario.cluster.gpus_per_node, plan.rail_aligned, link.get());
  if (const VoidResult opened = world->opened(); !opened.ok()) {
    report.errors.push_back("opening the engines: " + opened.error().to_string());
    world.reset();
    farewell();
    return report;
  }
  auto faults = std::make_shared<FaultLog>();
  schedule_faults(*world, scenario.faults, mapping, faults, report.notes);

  ProgressDisplay progress(options.progress, scenario.workloads.size());
  bool stuck = false;
  std::string stopped;  // why the remaining workloads do not run
  for (size_t i = 0; i < scenario.workloads.size(); ++i) {
    const WorkloadSpec& w = scenario.workloads[i];
    const WorkloadRunner& runner = runner_for(w);
    WorkloadReport& wr = report.workloads.emplace_back();
    wr.name = w.name;
    wr.kind = kind_name(w.kind());
    wr.lists_requests = runner.lists_requests();
    if (!world->lost().empty() && stopped.empty()) stopped = "not run: " + world->lost();
    if (stuck && stopped.empty()) stopped = "not run: an earlier workload left transfers pending";
    if (link && stopped.empty()) {
      // Every node is done with the workload before and still able to go on.
      auto met = link->gather(link->others(), NodeLink::kStep, i, WireWriter().u64(stuck).data(), [&] { world->drive(); },
                              "node " + std::to_string(report.node) + " waiting for the other nodes before " + w.name,
                              wall_deadline);
      if (!met.ok()) {
        stopped = "not run: " + met.error().message;
      } else {
        for (const auto& [n, body] : *met) {
          if (WireReader(body).u64() != 0) stopped = "not run: node " + std::to_string(n) + " left transfers pending";
        }
      }
    }
    if (!stopped.empty()) {
      wr.errors.push_back(stopped);
      continue;
    }
    progress.started(i, wr.name, wr.kind);
    world->begin_workload(static_cast<uint32_t>(i));
    if (link) link->at_step(i);
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
  report.faults = faults->faults;
  report.counters = fabric_counters(world->fabric());
  report.errors.insert(report.errors.end(), faults->errors.begin(), faults->errors.end());
  report.trace_hash = world->fabric().trace_hash();
  report.simulated_ns = world->now_ns();
  report.interval_ns = world->nics().interval_ns();
  report.nics = world->nics().timelines(report.simulated_ns);
  for (NicTimeline& nic : report.nics) {
    const size_t index = std::stoul(nic.name.substr(nic.name.find("/nic") + 4));
    if (index < scenario.cluster.nic_gbps.size()) nic.gbps = scenario.cluster.nic_gbps[index];
  }
  farewell();
  report.wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
  // Pending transfers may still call back into the workloads' leaked state: keep the
  // engines alive rather than tear them down under it.
  if (stuck) (void)world.release();
  return report;
}

}  // namespace ferry::replay
