// Scenario: a parsed, validated scenario file: the cluster, its fabric, the model and
// the workloads to replay, and the faults to inject. Every value is final: defaults
// filled in, units converted, the scale applied (docs/scenarios.md).
#pragma once

#include <string>
#include <vector>

#include "scenarios/cluster_spec.h"
#include "scenarios/fabric_spec.h"
#include "scenarios/fault_spec.h"
#include "scenarios/model_spec.h"
#include "scenarios/workload_spec.h"

namespace ferry::scenarios {

struct Scenario {
  std::string name;  // as given, else the file's name without its extension
  std::string description;
  // What the workloads' token counts and byte sizes were multiplied by: the file's scale
  // times the caller's (ParseOptions::scale).
  double scale = 1;
  ClusterSpec cluster;
  FabricSpec fabric;
  ModelSpec model;
  std::vector<WorkloadSpec> workloads;  // at least one
  std::vector<FaultSpec> faults;        // in file order
};

}  // namespace ferry::scenarios
