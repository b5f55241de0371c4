#include "tools/ferry/scenario_summary.h"

#include <algorithm>
#include <variant>

#include "scenarios/units.h"
#include "tools/ferry/replay/workload_runner.h"

namespace ferry::cli {
namespace {

using namespace ferry::scenarios;
using replay::count_of;

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
  std::string operator()(const TcpFabric&) const { return "tcp (loopback)"; }
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
    out += " (" + replay::runner_for(workload).describe(scenario.model, workload) + ")";
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
