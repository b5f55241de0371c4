#include "scenarios/placement_checks.h"

namespace ferry::scenarios {

std::string count_of(uint64_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

void check_ranks_fit(MappingReader& reader, std::string_view key, const std::string& what, uint64_t ranks,
                     const ClusterSpec* cluster) {
  if (cluster == nullptr || ranks <= cluster->gpus()) return;
  reader.error(key, what + " needs " + count_of(ranks, "GPU") + "; the cluster has " + std::to_string(cluster->gpus()) +
                        " (" + count_of(cluster->nodes, "node") + " x " + count_of(cluster->gpus_per_node, "GPU") +
                        ")");
}

void check_tp_splits_model(MappingReader& reader, std::string_view key, uint64_t tp, const ModelSpec* model) {
  if (model == nullptr) return;
  const std::string degree = "tp " + std::to_string(tp);
  if (model->attention_heads % tp != 0) {
    reader.error(key, degree + " does not divide the " + std::to_string(model->attention_heads) +
                          " attention heads of " + model->name);
    return;
  }
  if (model->attention == Attention::kGqa && model->kv_heads % tp != 0 && tp % model->kv_heads != 0) {
    reader.error(key, degree + " and the " + std::to_string(model->kv_heads) + " KV heads of " + model->name +
                          " do not divide one another (each rank holds kv_heads / tp heads, or each head sits "
                          "on tp / kv_heads ranks)");
  }
}

}  // namespace ferry::scenarios
