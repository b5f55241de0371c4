// Checks that a workload's shape fits the cluster and splits the model (internal to
// //scenarios:scenario). Each reports at the field that would have to change, and does
// nothing when the cluster or model is unknown (its own section had errors).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "scenarios/cluster_spec.h"
#include "scenarios/mapping_reader.h"
#include "scenarios/model_spec.h"

namespace ferry::scenarios {

// "<what> needs 16 GPUs; the cluster has 8 (1 node x 8 GPUs)", when ranks > GPUs.
void check_ranks_fit(MappingReader& reader, std::string_view key, const std::string& what, uint64_t ranks,
                     const ClusterSpec* cluster);

// A tensor-parallel degree must divide the attention heads, and (GQA) either divide the
// KV heads or be a multiple of them (each rank then holds a replica of one KV head).
void check_tp_splits_model(MappingReader& reader, std::string_view key, uint64_t tp, const ModelSpec* model);

// "1 node", "8 GPUs".
std::string count_of(uint64_t count, std::string_view noun);

}  // namespace ferry::scenarios
