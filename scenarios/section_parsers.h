// The parsers of a scenario file's sections (internal to //scenarios:scenario).
//
// Each reports into the shared Diagnostics and carries on. A section that parsed without
// an error comes back; otherwise nullopt, and the checks across sections that need it
// (do the ranks fit the cluster? does tp split the model's heads?) are skipped rather
// than piling follow-on errors onto the first.
#pragma once

#include <optional>
#include <vector>

#include "scenarios/cluster_spec.h"
#include "scenarios/diagnostics.h"
#include "scenarios/fabric_spec.h"
#include "scenarios/fault_spec.h"
#include "scenarios/model_spec.h"
#include "scenarios/workload_spec.h"
#include "scenarios/yaml_document.h"

namespace ferry::scenarios {

std::optional<ClusterSpec> parse_cluster(const YamlNode& node, Diagnostics& diagnostics);
std::optional<FabricSpec> parse_fabric(const YamlNode& node, Diagnostics& diagnostics);
std::optional<ModelSpec> parse_model(const YamlNode& node, Diagnostics& diagnostics);

// `cluster` and `model` are null when their sections had errors.
std::vector<WorkloadSpec> parse_workloads(const YamlNode& node, const ClusterSpec* cluster, const ModelSpec* model,
                                          Diagnostics& diagnostics);
// `cluster` and `fabric` are null when their sections had errors.
std::vector<FaultSpec> parse_faults(const YamlNode& node, const ClusterSpec* cluster, const FabricSpec* fabric,
                                    Diagnostics& diagnostics);

}  // namespace ferry::scenarios
