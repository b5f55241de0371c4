#include "tools/ferry/scenario_summary.h"

#include <algorithm>
#include <variant>

#include "scenarios/units.h"
#include "scenarios/workload_volume.h"

namespace ferry::cli {
namespace {

using namespace ferry::scenarios;

std::string count_of(uint64_t count, const std::string& noun, const std::string& nouns) {
  return format_grouped(count) + " " + (count == 1 ? noun : nouns);
}

std::string count_of(uint64_t count, const std::string& noun) { return count_of(count, noun, noun + "s"); }

std::string tokens(uint64_t count) { return count_of(count, "token"); }

std::string describe_rates(const ClusterSpec& cluster) {
  const auto [low, high] = std::minmax_element(cluster.nic_gbps.begin(), cluster.nic_gbps.end());
  std::string rates = *low == *high ? format_rate(*low) : format_rate(*low) + " to " + format_rate(*high);
  return count_of(cluster.nics_per_node(), "NIC") + " per node at " + rates + " (" + format_rate(cluster.node_gbps()) +
         " per node)";
}

std::string describe_cluster(const ClusterSpec& cluster) {
  std::string out = count_of(cluster.nodes, "node") + " x " + count_of(cluster.gpus_per_node, "GPU") + " (" +
                    count_of(cluster.gpus(), "GPU") + "), " + describe_rates(cluster) + ", ";
  if (cluster.topology == Topology::kSingleSwitch) return out + "one switch";
  return out + "leaf-spine (" + std::to_string(cluster.nodes_per_leaf) + " nodes per leaf, " +
         count_of(cluster.spines, "spine") + ", oversubscription " + format_real(cluster.oversubscription) + ":1)";
}

struct DescribeFabric {
  std::string operator()(const EmuFabric& emu) const {
    std::string out = "emu (" + std::string(name_of(kEmuModeNames, emu.mode)) + ", seed " + std::to_string(emu.seed);
    if (emu.loss > 0) out += ", loss " + format_real(emu.loss);
    return out + ")";
  }
  std::string operator()(const SimFabric& sim) const {
    std::string out = "sim (";
    if (sim.transport == SimTransport::kSrd) {
      out += "SRD";
    } else {
      out +=
          sim.pfc ? "RoCE lossless with PFC" : "RoCE lossy, " + std::string(name_of(kRetransmitNames, sim.retransmit));
      if (sim.ecn) out += ", ECN";
      if (sim.dcqcn) out += ", DCQCN";
    }
    if (sim.loss > 0) out += ", loss " + format_real(sim.loss);
    return out + ", seed " + std::to_string(sim.seed) + ")";
  }
  std::string operator()(const VerbsFabric& verbs) const {
    if (verbs.devices.empty()) return "verbs (every device)";
    std::string names;
    for (const std::string& device : verbs.devices) names += (names.empty() ? "" : ", ") + device;
    return "verbs (devices matching " + names + ")";
  }
};

std::string describe_model(const ModelSpec& m) {
  std::string out = "Model " + m.name + ": " + count_of(m.layers, "layer") + ", hidden " +
                    format_grouped(m.hidden_size) + ", " + std::to_string(m.attention_heads) + " attention heads";
  if (m.attention == Attention::kMla) {
    out += ", MLA caching a latent of " + std::to_string(m.kv_lora_rank) + " + " + std::to_string(m.qk_rope_head_dim) +
           " (rope) per token per layer";
  } else {
    out += " with " + std::to_string(m.kv_heads) + " KV heads of " + std::to_string(m.head_dim);
  }
  if (m.is_moe()) {
    out += ", " + count_of(m.experts, "expert") + " (" + std::to_string(m.experts_per_token) + " per token";
    if (m.shared_experts > 0) out += ", " + std::to_string(m.shared_experts) + " shared";
    out += ", " + format_bytes(m.expert_bytes()) + " each)";
  }
  return out + ", " + dtype_name(m.dtype_bytes) + "; KV cache " + format_grouped(m.kv_bytes_per_token()) +
         " B per token, activations " + format_grouped(m.activation_bytes_per_token()) + " B per token per layer, " +
         format_parameter_count(m.parameter_count()) + " parameters (" + format_bytes(m.parameter_bytes()) + ").";
}

std::string describe_contexts(const ContextLengths& context) {
  switch (context.kind) {
    case ContextLengths::Kind::kList: {
      const auto [low, high] = std::minmax_element(context.list.begin(), context.list.end());
      return *low == *high ? "of " + tokens(*high)
                           : "of " + format_grouped(*low) + " to " + tokens(*high) + ", taking " +
                                 std::to_string(context.list.size()) + " lengths in turn";
    }
    case ContextLengths::Kind::kUniform:
      return "of " + format_grouped(context.min) + " to " + tokens(context.max) + ", uniform";
    case ContextLengths::Kind::kLognormal:
      return "of median " + tokens(context.median) + ", lognormal with sigma " + format_real(context.sigma) +
             " within " + format_grouped(context.min) + " to " + format_grouped(context.max);
  }
  return "";
}

struct DescribeWorkload {
  const ModelSpec& model;

  std::string operator()(const TpDecodeSpec& s) const {
    return "tp " + std::to_string(s.tp) + ", batch " + std::to_string(s.batch) + ", " + tokens(s.tokens) + ": " +
           format_grouped(tp_decode_allreduces_per_token(model)) + " all-reduces of " +
           format_bytes(tp_decode_allreduce_bytes(s, model)) + " per token";
  }
  std::string operator()(const PdDisaggSpec& s) const {
    const std::string arrival = s.arrival_rate == 0 ? "arriving all at once"
                                                    : "arriving " + format_real(s.arrival_rate) + " per second (" +
                                                          std::string(name_of(kArrivalNames, s.arrival)) + ")";
    return count_of(s.requests, "request") + " " + describe_contexts(s.context) + ", " + arrival + ", prefill " +
           std::to_string(s.prefill.instances) + " x tp " + std::to_string(s.prefill.tp) + " to decode " +
           std::to_string(s.decode.instances) + " x tp " + std::to_string(s.decode.tp) + " in blocks of " +
           tokens(s.block_size) + ": up to " + format_bytes(pd_request_kv_bytes(s.context.largest(), model)) +
           " of KV cache per request";
  }
  std::string operator()(const MoeSpec& s) const {
    return "ep " + std::to_string(s.ep) + ", " + format_grouped(s.tokens_per_rank) + " tokens per rank, top " +
           std::to_string(s.top_k) + ", routing skew " + format_real(s.routing_skew) + ", " +
           count_of(s.rounds, "round") + ": " + format_bytes(moe_dispatch_bytes_per_rank(s, model)) +
           " dispatched and combined per rank per round";
  }
  std::string operator()(const PipelineSpec& s) const {
    return std::to_string(s.stages) + " stages x tp " + std::to_string(s.tp) + ", " +
           count_of(s.micro_batches, "micro-batch", "micro-batches") + " of " + tokens(s.micro_batch_tokens) + ": " +
           format_bytes(pipeline_micro_batch_bytes(s, model)) + " per micro-batch per stage boundary";
  }
  std::string operator()(const WeightLoadSpec& s) const {
    const std::string receivers = s.placement == WeightPlacement::kPerNode ? "node" : "GPU";
    return format_bytes(s.bytes) + (s.bytes_from_model ? ", the model's parameters," : "") + " to each of " +
           count_of(s.ranks, receivers) + ", fanout " + std::to_string(s.fanout) + ", " +
           count_of(weight_load_chunks(s), "chunk") + " of " + format_bytes(s.chunk_bytes);
  }
};

std::string describe_fault(const FaultSpec& fault) {
  std::string out(name_of(kFaultNames, fault.kind));
  if (fault.kind == FaultKind::kLossRate) out += " " + format_real(fault.value);
  out += " at " + format_duration(fault.at_ns) + " on node " + std::to_string(fault.node);
  if (fault.nic) out += " NIC " + std::to_string(*fault.nic);
  return out;
}

}  // namespace

std::string summarize(const Scenario& scenario) {
  std::string out = scenario.name + ": ";
  std::string description = scenario.description;  // a YAML block scalar may span lines
  std::replace(description.begin(), description.end(), '\n', ' ');
  while (!description.empty() && description.back() == ' ') description.pop_back();
  if (!description.empty()) out += description + (description.back() == '.' ? " " : ". ");
  out += describe_cluster(scenario.cluster) + ", on " + std::visit(DescribeFabric{}, scenario.fabric.params) + ". ";
  out += describe_model(scenario.model) + " ";
  out += "Would run " + count_of(scenario.workloads.size(), "workload") +
         (scenario.workloads.size() == 1 ? ": " : ", one after another: ");
  for (size_t i = 0; i < scenario.workloads.size(); ++i) {
    const WorkloadSpec& workload = scenario.workloads[i];
    const std::string_view kind = name_of(kWorkloadNames, workload.kind());
    out += (i == 0 ? "" : "; ") + std::string(kind);
    if (workload.name != kind) out += " '" + workload.name + "'";
    out += " (" + std::visit(DescribeWorkload{scenario.model}, workload.params) + ")";
  }
  out += ". ";
  if (scenario.faults.empty()) {
    out += "No faults.";
  } else {
    out += "Faults: ";
    for (size_t i = 0; i < scenario.faults.size(); ++i) {
      out += (i == 0 ? "" : "; ") + describe_fault(scenario.faults[i]);
    }
    out += ".";
  }
  if (scenario.scale != 1) out += " Token counts and byte sizes scaled by " + format_real(scenario.scale) + ".";
  return out;
}

}  // namespace ferry::cli
