// The workload registry: every kind a scenario can name has a runner, and the runners'
// plans size the shipped scenarios as the replay does.
#include <gtest/gtest.h>

#include "scenarios/scenario_parser.h"
#include "tools/ferry/replay/workload_runner.h"

namespace ferry::replay {
namespace {

using namespace scenarios;

Scenario load(const std::string& path) {
  ScenarioParse parsed = load_scenario(path);
  for (const Diagnostic& e : parsed.errors) ADD_FAILURE() << e.to_string();
  return parsed.ok() ? *parsed.scenario : Scenario{};
}

TEST(WorkloadRegistry, EveryKindHasItsRunner) {
  for (const auto& named : kWorkloadNames) {
    const WorkloadRunner* runner = find_runner(named.value);
    ASSERT_NE(runner, nullptr) << "no runner registered for " << named.name;
    EXPECT_EQ(runner->kind(), named.value) << named.name;
    EXPECT_EQ(kind_name(named.value), named.name);
  }
}

TEST(WorkloadRegistry, OnlyPdDisaggListsRequests) {
  for (const auto& named : kWorkloadNames) {
    EXPECT_EQ(find_runner(named.value)->lists_requests(), named.value == WorkloadKind::kPdDisagg) << named.name;
  }
}

// default.yaml on 4-GPU nodes of 2 NICs: tp 4; pd from tp 4 on node 0 to tp 4 on node 1;
// ep 8; 4 stages x tp 2; weights to 8 GPUs: 8 ranks, every workload moving bytes, no
// rail alignment.
TEST(WorkloadRegistry, PlansTheDefaultScenario) {
  const Scenario s = load("scenarios/default.yaml");
  ASSERT_EQ(s.workloads.size(), 5u);
  for (const WorkloadSpec& w : s.workloads) {
    const WorkloadPlan p = runner_for(w).plan(s, w);
    EXPECT_GT(p.ranks, 0u) << w.name;
    EXPECT_LE(p.ranks, 8u) << w.name;
    EXPECT_GT(p.estimated_bytes, 0u) << w.name;
    EXPECT_FALSE(p.rail_aligned) << w.name;
    EXPECT_FALSE(runner_for(w).describe(s.model, w).empty()) << w.name;
  }
  EXPECT_EQ(plan_scenario(s).ranks, 8u);
}

// EP 64 on 8-NIC nodes: 512 rank-NICs, beyond kMaxAllToAllRails.
TEST(WorkloadRegistry, WideAllToAllRunsRailAligned) {
  const Scenario s = load("scenarios/deepseek-v3-ep64-decode.yaml");
  const WorkloadPlan p = plan_scenario(s);
  EXPECT_EQ(p.ranks, 64u);
  EXPECT_TRUE(p.rail_aligned);
}

}  // namespace
}  // namespace ferry::replay
