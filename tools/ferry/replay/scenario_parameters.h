// The scenario's model, cluster, fabric and workloads as key-value lists for report.json
// and report.html: the scenario file's keys (docs/scenarios.md) with their final values.
#pragma once

#include "scenarios/scenario.h"
#include "tools/ferry/replay/replay.h"

namespace ferry::replay {

ScenarioParameters describe_scenario(const scenarios::Scenario& scenario);

}  // namespace ferry::replay
