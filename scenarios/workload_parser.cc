// The `workloads` section: a list of the five patterns, each checked against the cluster
// (do its ranks fit?) and the model (does its parallelism split it?).
#include <string>

#include "scenarios/limits.h"
#include "scenarios/mapping_reader.h"
#include "scenarios/placement_checks.h"
#include "scenarios/section_parsers.h"

namespace ferry::scenarios {
namespace {

constexpr WholeRange kTokenRange{1, kMaxTokens};
constexpr WholeRange kCountRange{1, kMaxCount};
// A parallel group has two ranks at least: one rank has nobody to talk to.
constexpr WholeRange kGroupRange{2, kMaxCount};

struct Context {
  const ClusterSpec* cluster;
  const ModelSpec* model;
};

TpDecodeSpec parse_tp_decode(MappingReader& reader, const Context& context) {
  TpDecodeSpec spec;
  const std::optional<uint64_t> tp = reader.whole("tp", Presence::kRequired, kGroupRange);
  spec.batch = static_cast<uint32_t>(reader.whole("batch", Presence::kRequired, kCountRange).value_or(0));
  spec.tokens = reader.tokens("tokens", Presence::kRequired, kTokenRange).value_or(0);
  if (tp) {
    spec.tp = static_cast<uint32_t>(*tp);
    check_ranks_fit(reader, "tp", "tp " + std::to_string(*tp), *tp, context.cluster);
    check_tp_splits_model(reader, "tp", *tp, context.model);
  }
  return spec;
}

ContextLengths parse_distribution(MappingReader& reader) {
  ContextLengths lengths;
  const std::optional<ContextLengths::Kind> kind =
      reader.choice("distribution", Presence::kRequired, kContextDistributionNames);
  if (!kind) return lengths;  // which keys belong is unknown: the distribution's error says it all
  lengths.kind = *kind;
  if (lengths.kind == ContextLengths::Kind::kUniform) {
    lengths.min = reader.tokens("min", Presence::kRequired, kTokenRange).value_or(0);
    lengths.max = reader.tokens("max", Presence::kRequired, kTokenRange).value_or(0);
    for (std::string_view key : {"median", "sigma"}) reader.forbid(key, "applies to distribution lognormal");
  } else {
    lengths.median = reader.tokens("median", Presence::kRequired, kTokenRange).value_or(0);
    lengths.sigma = reader.real("sigma", Presence::kRequired, RealRange{0, 10, true, false}).value_or(0);
    lengths.min = reader.tokens("min", Presence::kOptional, kTokenRange).value_or(1);
    lengths.max = reader.tokens("max", Presence::kRequired, kTokenRange).value_or(0);
    if (lengths.median > 0 && lengths.max > 0 && lengths.median > lengths.max) {
      reader.error("median", "must be at most max (" + std::to_string(lengths.max) + " tokens), got " +
                                 std::to_string(lengths.median));
    }
  }
  if (lengths.min > 0 && lengths.max > 0 && lengths.min > lengths.max) {
    reader.error(
        "min", "must be at most max (" + std::to_string(lengths.max) + " tokens), got " + std::to_string(lengths.min));
  }
  reader.finish();
  return lengths;
}

// context: a length, a list of lengths, or {distribution: ..., ...}.
ContextLengths parse_context(const YamlNode& node, const std::string& field, Diagnostics& diagnostics) {
  if (node.is_mapping()) {
    MappingReader reader(node, field, diagnostics);
    return parse_distribution(reader);
  }
  ContextLengths lengths;
  if (node.is_sequence() && node.items.empty()) {
    diagnostics.error(node.mark, field + ": the list is empty; give at least one context length");
  }
  const std::vector<const YamlNode*> items = one_or_many(node);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string item = node.is_sequence() ? indexed_field(field, i) : field;
    lengths.list.push_back(read_tokens(*items[i], item, diagnostics, kTokenRange).value_or(0));
  }
  return lengths;
}

// prefill / decode: {tp: N, instances: M}.
std::optional<PoolSpec> parse_pool(MappingReader& workload, std::string_view key, const Context& context) {
  const YamlNode* node = workload.get(key, Presence::kRequired);
  Diagnostics& diagnostics = workload.diagnostics();
  if (node == nullptr || !expect_mapping(*node, workload.field(key), diagnostics)) return std::nullopt;
  const size_t errors_before = diagnostics.count();
  MappingReader reader(*node, workload.field(key), diagnostics);
  PoolSpec pool;
  pool.tp = static_cast<uint32_t>(reader.whole("tp", Presence::kRequired, kCountRange).value_or(0));
  pool.instances = static_cast<uint32_t>(reader.whole("instances", Presence::kOptional, kCountRange).value_or(1));
  if (pool.tp > 0) check_tp_splits_model(reader, "tp", pool.tp, context.model);
  reader.finish();
  if (diagnostics.count() != errors_before) return std::nullopt;
  return pool;
}

std::string describe_pool(std::string_view role, const PoolSpec& pool) {
  return "the " + std::string(role) + " pool (" + std::to_string(pool.instances) + " x tp " + std::to_string(pool.tp) +
         " = " + count_of(pool.ranks(), "GPU") + ")";
}

PdDisaggSpec parse_pd_disagg(MappingReader& reader, const Context& context) {
  PdDisaggSpec spec;
  const YamlNode* lengths = reader.get("context", Presence::kRequired);
  if (lengths != nullptr) spec.context = parse_context(*lengths, reader.field("context"), reader.diagnostics());
  // A list of lengths implies one request per entry; a distribution needs a count.
  const bool listed = lengths != nullptr && !lengths->is_mapping();
  spec.requests =
      static_cast<uint32_t>(reader.whole("requests", listed ? Presence::kOptional : Presence::kRequired, kCountRange)
                                .value_or(spec.context.list.size()));
  spec.arrival_rate = reader.real("arrival_rate", Presence::kOptional, RealRange::closed(0, 1e9)).value_or(0);
  spec.arrival = reader.choice("arrival", Presence::kOptional, kArrivalNames).value_or(spec.arrival);
  spec.block_size = static_cast<uint32_t>(reader.whole("block_size", Presence::kOptional, {1, 1 << 16}).value_or(16));
  const std::optional<PoolSpec> prefill = parse_pool(reader, "prefill", context);
  const std::optional<PoolSpec> decode = parse_pool(reader, "decode", context);
  if (prefill) spec.prefill = *prefill;
  if (decode) spec.decode = *decode;
  const ClusterSpec* cluster = context.cluster;
  if (prefill && decode && cluster != nullptr) {
    const uint64_t nodes = uint64_t{cluster->nodes_for(prefill->ranks())} + cluster->nodes_for(decode->ranks());
    if (nodes > cluster->nodes) {
      reader.error_here(describe_pool("prefill", *prefill) + " and " + describe_pool("decode", *decode) + " need " +
                        count_of(nodes, "node") + " of " + std::to_string(cluster->gpus_per_node) +
                        " GPUs, as pools do not share nodes; the cluster has " + std::to_string(cluster->nodes));
    }
  }
  return spec;
}

MoeSpec parse_moe(MappingReader& reader, const Context& context) {
  MoeSpec spec;
  const std::optional<uint64_t> ep = reader.whole("ep", Presence::kRequired, kGroupRange);
  spec.tokens_per_rank = reader.tokens("tokens_per_rank", Presence::kRequired, kTokenRange).value_or(0);
  const std::optional<uint64_t> top_k = reader.whole("top_k", Presence::kOptional, {1, 4096});
  spec.routing_skew = reader.real("routing_skew", Presence::kOptional, RealRange::closed(0, 8)).value_or(0);
  spec.rounds = static_cast<uint32_t>(reader.whole("rounds", Presence::kOptional, kCountRange).value_or(1));
  spec.dispatch_dtype =
      reader.choice("dispatch_dtype", Presence::kOptional, kDispatchDtypeNames).value_or(spec.dispatch_dtype);
  if (ep) {
    spec.ep = static_cast<uint32_t>(*ep);
    check_ranks_fit(reader, "ep", "ep " + std::to_string(*ep), *ep, context.cluster);
  }
  const ModelSpec* model = context.model;
  if (model == nullptr) return spec;
  if (!model->is_moe()) {
    reader.error("kind", "moe needs a mixture-of-experts model, and " + model->name + " has no experts");
    return spec;
  }
  spec.top_k = static_cast<uint32_t>(top_k.value_or(model->experts_per_token));
  if (spec.top_k > model->experts) {
    reader.error("top_k", "must be at most the " + std::to_string(model->experts) + " experts of " + model->name +
                              ", got " + std::to_string(spec.top_k));
  }
  if (ep && model->experts % *ep != 0) {
    reader.error("ep", "ep " + std::to_string(*ep) + " does not divide the " + std::to_string(model->experts) +
                           " experts of " + model->name);
  }
  if (spec.dispatch_dtype == DispatchDtype::kFp8 && model->hidden_size % kFp8ScaleGroup != 0) {
    reader.error("dispatch_dtype", "fp8 dispatch scales groups of " + std::to_string(kFp8ScaleGroup) +
                                       " elements, and the hidden size " + std::to_string(model->hidden_size) +
                                       " of " + model->name + " is not a multiple of it");
  }
  return spec;
}

PipelineSpec parse_pipeline(MappingReader& reader, const Context& context) {
  PipelineSpec spec;
  const std::optional<uint64_t> stages = reader.whole("stages", Presence::kRequired, kGroupRange);
  const std::optional<uint64_t> tp = reader.whole("tp", Presence::kOptional, kCountRange);
  spec.micro_batches =
      static_cast<uint32_t>(reader.whole("micro_batches", Presence::kRequired, kCountRange).value_or(0));
  spec.micro_batch_tokens = reader.tokens("micro_batch_tokens", Presence::kRequired, kTokenRange).value_or(0);
  // At most half the pipeline link's tag window (pp::StageLink::kMaxInFlight).
  spec.max_in_flight = static_cast<uint32_t>(
      reader.whole("max_in_flight", Presence::kOptional, WholeRange{1, 32}).value_or(spec.max_in_flight));
  if (tp) {
    spec.tp = static_cast<uint32_t>(*tp);
    check_tp_splits_model(reader, "tp", *tp, context.model);
  }
  if (!stages) return spec;
  spec.stages = static_cast<uint32_t>(*stages);
  if (context.model != nullptr && *stages > context.model->layers) {
    reader.error("stages", std::to_string(*stages) + " stages for the " + std::to_string(context.model->layers) +
                               " layers of " + context.model->name + ": each stage needs a layer at least");
  }
  check_ranks_fit(reader, "stages", std::to_string(*stages) + " stages x tp " + std::to_string(spec.tp), spec.ranks(),
                  context.cluster);
  return spec;
}

WeightLoadSpec parse_weight_load(MappingReader& reader, const Context& context) {
  WeightLoadSpec spec;
  // size: bytes, or "model" (the default): the model's parameter bytes.
  const YamlNode* size = reader.get("size");
  if (size == nullptr || (size->is_scalar() && size->text == "model")) {
    spec.bytes_from_model = true;
    if (context.model != nullptr) spec.bytes = context.model->parameter_bytes();
  } else {
    spec.bytes = read_size(*size, reader.field("size"), reader.diagnostics(), {1, kMaxBytes}).value_or(0);
  }
  spec.placement = reader.choice("placement", Presence::kOptional, kWeightPlacementNames).value_or(spec.placement);
  const std::optional<uint64_t> ranks = reader.whole("ranks", Presence::kOptional, kGroupRange);
  spec.fanout = static_cast<uint32_t>(reader.whole("fanout", Presence::kOptional, kCountRange).value_or(spec.fanout));
  spec.chunk_bytes = reader.size("chunk", Presence::kOptional, {1, kMaxBytes}).value_or(spec.chunk_bytes);
  const ClusterSpec* cluster = context.cluster;
  if (cluster == nullptr) {
    spec.ranks = static_cast<uint32_t>(ranks.value_or(0));
    return spec;
  }
  const bool per_node = spec.placement == WeightPlacement::kPerNode;
  const uint32_t available = per_node ? cluster->nodes : cluster->gpus();
  const std::string unit = per_node ? "node" : "GPU";
  spec.ranks = static_cast<uint32_t>(ranks.value_or(available));  // by default every one loads the weights
  if (ranks && !per_node) {
    check_ranks_fit(reader, "ranks", "ranks " + std::to_string(*ranks), *ranks, cluster);
  } else if (ranks && *ranks > available) {
    reader.error("ranks", "ranks " + std::to_string(*ranks) + " needs " + count_of(*ranks, "node") +
                              "; the cluster has " + std::to_string(available));
  } else if (!ranks && available < 2) {
    reader.error_here("weight_load needs 2 ranks at least; the cluster has 1 " + unit);
  }
  return spec;
}

WorkloadSpec parse_workload(const YamlNode& node, const std::string& field, const Context& context,
                            Diagnostics& diagnostics) {
  MappingReader reader(node, field, diagnostics);
  WorkloadSpec workload;
  workload.where = node.mark;
  const std::optional<WorkloadKind> kind = reader.choice("kind", Presence::kRequired, kWorkloadNames);
  if (!kind) return workload;  // which keys belong is unknown: the kind's error says it all
  workload.name = reader.text("name", Presence::kOptional).value_or(std::string(name_of(kWorkloadNames, *kind)));
  switch (*kind) {
    case WorkloadKind::kTpDecode:
      workload.params = parse_tp_decode(reader, context);
      break;
    case WorkloadKind::kPdDisagg:
      workload.params = parse_pd_disagg(reader, context);
      break;
    case WorkloadKind::kMoe:
      workload.params = parse_moe(reader, context);
      break;
    case WorkloadKind::kPipeline:
      workload.params = parse_pipeline(reader, context);
      break;
    case WorkloadKind::kWeightLoad:
      workload.params = parse_weight_load(reader, context);
      break;
  }
  reader.finish();
  return workload;
}

}  // namespace

std::vector<WorkloadSpec> parse_workloads(const YamlNode& node, const ClusterSpec* cluster, const ModelSpec* model,
                                          Diagnostics& diagnostics) {
  std::vector<WorkloadSpec> workloads;
  if (!expect_list(node, "workloads", diagnostics)) return workloads;
  if (node.items.empty()) diagnostics.error(node.mark, "workloads: the list is empty; give at least one workload");
  const Context context{cluster, model};
  for (size_t i = 0; i < node.items.size(); ++i) {
    const std::string field = indexed_field("workloads", i);
    if (!expect_mapping(node.items[i], field, diagnostics)) continue;
    workloads.push_back(parse_workload(node.items[i], field, context, diagnostics));
  }
  return workloads;
}

}  // namespace ferry::scenarios
