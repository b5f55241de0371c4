// Every scenario shipped in scenarios/ is valid, and is named after its file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "scenarios/scenario_parser.h"

namespace ferry::scenarios {
namespace {

std::vector<std::filesystem::path> shipped_scenarios() {
  // The test runs in its runfiles tree, where scenarios/ holds the globbed files.
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator("scenarios")) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(ShippedScenarios, EveryOneValidates) {
  const std::vector<std::filesystem::path> files = shipped_scenarios();
  ASSERT_GE(files.size(), 10u) << "the glob found too few scenarios";
  for (const std::filesystem::path& file : files) {
    const ScenarioParse parsed = load_scenario(file.string());
    for (const Diagnostic& error : parsed.errors) ADD_FAILURE() << error.to_string();
    if (!parsed.ok()) continue;
    EXPECT_EQ(parsed.scenario->name, file.stem().string()) << "name a scenario after its file";
    EXPECT_FALSE(parsed.scenario->description.empty()) << file;
    // Scaled down a thousandfold, as a quick replay would take it, it stays valid.
    EXPECT_TRUE(load_scenario(file.string(), {.scale = 0.001}).ok()) << file;
  }
}

TEST(ShippedScenarios, EveryPatternHasOne) {
  std::set<WorkloadKind> kinds;
  for (const std::filesystem::path& file : shipped_scenarios()) {
    const ScenarioParse parsed = load_scenario(file.string());
    if (!parsed.ok()) continue;
    for (const WorkloadSpec& workload : parsed.scenario->workloads) kinds.insert(workload.kind());
  }
  EXPECT_EQ(kinds.size(), 5u);
}

TEST(ShippedScenarios, DefaultMixesAllFivePatternsOnTheEmulator) {
  const ScenarioParse parsed = load_scenario("scenarios/default.yaml");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed.scenario->fabric.provider(), ProviderKind::kEmu);
  std::set<WorkloadKind> kinds;
  for (const WorkloadSpec& workload : parsed.scenario->workloads) kinds.insert(workload.kind());
  EXPECT_EQ(kinds.size(), 5u);
  EXPECT_LE(parsed.scenario->cluster.gpus(), 8u);  // small enough for two cores
}

}  // namespace
}  // namespace ferry::scenarios
