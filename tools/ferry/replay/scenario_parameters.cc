#include "tools/ferry/replay/scenario_parameters.h"

#include <cstdio>
#include <string>
#include <type_traits>

namespace ferry::replay {

using namespace scenarios;

namespace {

// Shortest text that reads back as the same double ("0.01", "100", "1e-06").
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string nanoseconds(uint64_t ns) { return std::to_string(ns) + " ns"; }
std::string bytes(uint64_t b) { return std::to_string(b) + " B"; }
std::string gbps(double rate) { return number(rate) + " Gb/s"; }
std::string yes_no(bool b) { return b ? "true" : "false"; }

class Keys {
 public:
  explicit Keys(std::vector<ScenarioParameter>& out) : out_(out) {}
  Keys& add(std::string key, std::string_view value) {
    out_.push_back({std::move(key), std::string(value)});
    return *this;
  }
  Keys& add(std::string key, uint64_t value) { return add(std::move(key), std::to_string(value)); }

 private:
  std::vector<ScenarioParameter>& out_;
};

void describe_model(const ModelSpec& m, std::vector<ScenarioParameter>& out) {
  Keys k(out);
  k.add("name", m.name).add("layers", m.layers).add("hidden_size", m.hidden_size);
  k.add("attention_heads", m.attention_heads).add("attention", name_of(kAttentionNames, m.attention));
  if (m.attention == Attention::kGqa) {
    k.add("kv_heads", m.kv_heads).add("head_dim", m.head_dim);
  } else {
    k.add("kv_lora_rank", m.kv_lora_rank).add("qk_rope_head_dim", m.qk_rope_head_dim);
    k.add("qk_nope_head_dim", m.qk_nope_head_dim).add("v_head_dim", m.v_head_dim).add("q_lora_rank", m.q_lora_rank);
  }
  k.add("intermediate_size", m.intermediate_size).add("vocab_size", m.vocab_size);
  k.add("dtype_bytes", std::to_string(m.dtype_bytes) + " (" + dtype_name(m.dtype_bytes) + ")");
  k.add("experts", m.experts);
  if (m.is_moe()) {
    k.add("experts_per_token", m.experts_per_token).add("shared_experts", m.shared_experts);
    k.add("expert_intermediate_size", m.expert_intermediate_size).add("dense_layers", m.dense_layers);
  }
  k.add("KV cache per token", bytes(m.kv_bytes_per_token()));
  k.add("parameters (approximate)", m.parameter_count());
}

void describe_cluster(const ClusterSpec& c, std::vector<ScenarioParameter>& out) {
  Keys k(out);
  k.add("nodes", c.nodes).add("gpus_per_node", c.gpus_per_node).add("nics_per_node", c.nics_per_node());
  std::string rates;
  for (size_t i = 0; i < c.nic_gbps.size(); ++i) rates += (i ? ", " : "") + gbps(c.nic_gbps[i]);
  k.add("nic_rate", rates);
  k.add("topology", name_of(kTopologyNames, c.topology));
  if (c.topology == Topology::kLeafSpine) {
    k.add("topology.nodes_per_leaf", c.nodes_per_leaf).add("topology.spines", c.spines);
    k.add("topology.oversubscription", number(c.oversubscription));
  }
}

void describe_fabric(const FabricSpec& f, std::vector<ScenarioParameter>& out) {
  Keys k(out);
  std::visit(
      [&k]([[maybe_unused]] const auto& p) {  // tcp has no keys
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, EmuFabric>) {
          k.add("mode", name_of(kEmuModeNames, p.mode)).add("seed", p.seed);
          k.add("reorder_window", nanoseconds(p.reorder_window_ns)).add("loss", number(p.loss));
          k.add("delay", nanoseconds(p.delay_ns));
        } else if constexpr (std::is_same_v<T, SimFabric>) {
          k.add("seed", p.seed).add("transport", name_of(kSimTransportNames, p.transport));
          k.add("pfc", yes_no(p.pfc)).add("loss", number(p.loss));
          k.add("retransmit", name_of(kRetransmitNames, p.retransmit));
          if (p.ecn) {
            k.add("ecn.kmin", bytes(p.ecn->kmin_bytes)).add("ecn.kmax", bytes(p.ecn->kmax_bytes));
            k.add("ecn.pmax", number(p.ecn->pmax));
          } else {
            k.add("ecn", "absent (no marking)");
          }
          if (p.dcqcn) {
            k.add("dcqcn.g", number(p.dcqcn->g)).add("dcqcn.alpha_timer", nanoseconds(p.dcqcn->alpha_timer_ns));
            k.add("dcqcn.rate_timer", nanoseconds(p.dcqcn->rate_timer_ns));
            k.add("dcqcn.byte_counter", bytes(p.dcqcn->byte_counter_bytes));
            k.add("dcqcn.rate_ai", gbps(p.dcqcn->rate_ai_gbps)).add("dcqcn.rate_hai", gbps(p.dcqcn->rate_hai_gbps));
            k.add("dcqcn.fast_recovery_steps", p.dcqcn->fast_recovery_steps);
            k.add("dcqcn.cnp_interval", nanoseconds(p.dcqcn->cnp_interval_ns));
          } else {
            k.add("dcqcn", "absent (no rate control)");
          }
          k.add("link_delay", nanoseconds(p.link_delay_ns));
        } else if constexpr (std::is_same_v<T, VerbsFabric>) {
          std::string devices;
          for (size_t i = 0; i < p.devices.size(); ++i) devices += (i ? ", " : "") + p.devices[i];
          k.add("devices", p.devices.empty() ? std::string("every device") : devices);
          k.add("port", p.port ? std::to_string(*p.port) : "1 (default)");
          k.add("gid_index", p.gid_index ? std::to_string(*p.gid_index) : "a RoCE v2 GID with an IPv4 address");
          k.add("max_inline", p.max_inline ? bytes(*p.max_inline) : "64 B (default)");
        }
      },
      f.params);
}

std::string context_text(const ContextLengths& c) {
  switch (c.kind) {
    case ContextLengths::Kind::kList: {
      std::string out;
      for (size_t i = 0; i < c.list.size(); ++i) out += (i ? ", " : "") + std::to_string(c.list[i]);
      return out + " tokens";
    }
    case ContextLengths::Kind::kUniform:
      return "uniform, min " + std::to_string(c.min) + ", max " + std::to_string(c.max) + " tokens";
    case ContextLengths::Kind::kLognormal:
      return "lognormal, median " + std::to_string(c.median) + ", sigma " + number(c.sigma) + ", min " +
             std::to_string(c.min) + ", max " + std::to_string(c.max) + " tokens";
  }
  return "?";
}

std::string pool_text(const PoolSpec& p) {
  return "tp " + std::to_string(p.tp) + ", instances " + std::to_string(p.instances);
}

void describe_workload(const WorkloadSpec& w, std::vector<ScenarioParameter>& out) {
  Keys k(out);
  std::visit(
      [&k](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, TpDecodeSpec>) {
          k.add("tp", p.tp).add("batch", p.batch).add("tokens", p.tokens);
        } else if constexpr (std::is_same_v<T, PdDisaggSpec>) {
          k.add("requests", p.requests).add("context", context_text(p.context));
          k.add("arrival_rate", number(p.arrival_rate) + " per s").add("arrival", name_of(kArrivalNames, p.arrival));
          k.add("prefill", pool_text(p.prefill)).add("decode", pool_text(p.decode)).add("block_size", p.block_size);
        } else if constexpr (std::is_same_v<T, MoeSpec>) {
          k.add("ep", p.ep).add("tokens_per_rank", p.tokens_per_rank).add("top_k", p.top_k);
          k.add("routing_skew", number(p.routing_skew)).add("rounds", p.rounds);
          k.add("dispatch_dtype", name_of(kDispatchDtypeNames, p.dispatch_dtype));
        } else if constexpr (std::is_same_v<T, PipelineSpec>) {
          k.add("stages", p.stages).add("tp", p.tp).add("micro_batches", p.micro_batches);
          k.add("micro_batch_tokens", p.micro_batch_tokens).add("max_in_flight", p.max_in_flight);
        } else if constexpr (std::is_same_v<T, WeightLoadSpec>) {
          k.add("size", bytes(p.bytes) + (p.bytes_from_model ? " (the model's parameters)" : ""));
          k.add("placement", name_of(kWeightPlacementNames, p.placement)).add("ranks", p.ranks);
          k.add("fanout", p.fanout).add("chunk", bytes(p.chunk_bytes));
        }
      },
      w.params);
}

}  // namespace

ScenarioParameters describe_scenario(const Scenario& scenario) {
  ScenarioParameters out;
  out.scale = scenario.scale;
  describe_model(scenario.model, out.model);
  describe_cluster(scenario.cluster, out.cluster);
  out.fabric_provider = name_of(kProviderNames, scenario.fabric.provider());
  describe_fabric(scenario.fabric, out.fabric);
  for (const WorkloadSpec& w : scenario.workloads) {
    ScenarioParameters::Workload& entry = out.workloads.emplace_back();
    entry.name = w.name;
    entry.kind = name_of(kWorkloadNames, w.kind());
    describe_workload(w, entry.keys);
  }
  return out;
}

}  // namespace ferry::replay
