// Valid scenarios parse into the structures a replayer consumes: every value converted,
// every default filled in, the scale applied.
#include "scenarios/scenario_parser.h"

#include <gtest/gtest.h>

#include "scenarios/workload_volume.h"

namespace ferry::scenarios {
namespace {

Scenario parse(std::string_view text, ParseOptions options = {}) {
  ScenarioParse parsed = parse_scenario(text, "dir/some-scenario.yaml", options);
  for (const Diagnostic& error : parsed.errors) ADD_FAILURE() << error.to_string();
  return parsed.scenario.value_or(Scenario{});
}

constexpr std::string_view kEveryWorkload = R"(
description: every field written out
scale: 0.5
cluster:
  nodes: 4
  gpus_per_node: 8
  nic_rate: [400 Gb/s, 400 Gb/s, 25 GB/s, 100 Gbps]
  topology: {kind: leaf_spine, nodes_per_leaf: 2, spines: 3, oversubscription: 1.5}
fabric:
  provider: sim
  seed: 9
  transport: roce
  pfc: false
  loss: 1e-4
  retransmit: go_back_zero
  ecn: {kmin: 10 KiB, kmax: 1 MB, pmax: 0.2}
  dcqcn: {g: 0.5, alpha_timer: 10 us, rate_timer: 300 us, byte_counter: 1 MiB, rate_ai: 5 Mb/s,
          rate_hai: 50 Mb/s, fast_recovery_steps: 3, cnp_interval: 4 us}
  link_delay: 1.5 us
model: mixtral-8x22b
workloads:
  - kind: tp_decode
    name: decode
    tp: 8
    batch: 16
    tokens: 1k
  - kind: pd_disagg
    context: [4k, 1000]
    arrival_rate: 2.5
    arrival: fixed
    prefill: {tp: 4, instances: 2}
    decode: {tp: 8}
    block_size: 32
  - kind: moe
    ep: 8
    tokens_per_rank: 64
    top_k: 1
    routing_skew: 1.2
    rounds: 3
    dispatch_dtype: fp8
  - kind: pp
    stages: 4
    tp: 4
    micro_batches: 6
    micro_batch_tokens: 2k
    max_in_flight: 8
  - kind: weight_load
    size: 10 GiB
    ranks: 16
    fanout: 3
    chunk: 2 MiB
faults:
  - {at: 1.5 ms, kind: link_down, node: 3, nic: 1}
  - {at: 40 us, kind: loss_rate, node: 0, nic: 3, value: 0.25}
  - {at: 1 s, kind: node_loss, node: 2}
)";

TEST(ScenarioParser, ReadsEveryField) {
  const Scenario s = parse(kEveryWorkload);
  EXPECT_EQ(s.name, "some-scenario");  // from the file name
  EXPECT_EQ(s.description, "every field written out");
  EXPECT_EQ(s.scale, 0.5);

  EXPECT_EQ(s.cluster.nodes, 4u);
  EXPECT_EQ(s.cluster.gpus(), 32u);
  EXPECT_EQ(s.cluster.nic_gbps, (std::vector<double>{400, 400, 200, 100}));
  EXPECT_EQ(s.cluster.nics_per_node(), 4u);
  EXPECT_EQ(s.cluster.topology, Topology::kLeafSpine);
  EXPECT_EQ(s.cluster.nodes_per_leaf, 2u);
  EXPECT_EQ(s.cluster.spines, 3u);
  EXPECT_EQ(s.cluster.oversubscription, 1.5);

  ASSERT_EQ(s.fabric.provider(), ProviderKind::kSim);
  const SimFabric& sim = std::get<SimFabric>(s.fabric.params);
  EXPECT_EQ(sim.seed, 9u);
  EXPECT_FALSE(sim.pfc);
  EXPECT_EQ(sim.loss, 1e-4);
  EXPECT_EQ(sim.retransmit, Retransmit::kGoBackZero);
  ASSERT_TRUE(sim.ecn && sim.dcqcn);
  EXPECT_EQ(sim.ecn->kmin_bytes, 10u * 1024);
  EXPECT_EQ(sim.ecn->kmax_bytes, 1'000'000u);
  EXPECT_EQ(sim.ecn->pmax, 0.2);
  EXPECT_EQ(sim.dcqcn->g, 0.5);
  EXPECT_EQ(sim.dcqcn->alpha_timer_ns, 10'000u);
  EXPECT_EQ(sim.dcqcn->rate_timer_ns, 300'000u);
  EXPECT_EQ(sim.dcqcn->byte_counter_bytes, 1u << 20);
  EXPECT_DOUBLE_EQ(sim.dcqcn->rate_ai_gbps, 0.005);
  EXPECT_DOUBLE_EQ(sim.dcqcn->rate_hai_gbps, 0.05);
  EXPECT_EQ(sim.dcqcn->fast_recovery_steps, 3u);
  EXPECT_EQ(sim.dcqcn->cnp_interval_ns, 4'000u);
  EXPECT_EQ(sim.link_delay_ns, 1'500u);

  EXPECT_EQ(s.model.name, "mixtral-8x22b");
  ASSERT_EQ(s.workloads.size(), 5u);

  EXPECT_EQ(s.workloads[0].name, "decode");
  EXPECT_EQ(s.workloads[0].kind(), WorkloadKind::kTpDecode);
  EXPECT_EQ(s.workloads[0].where, (SourceMark{22, 5}));
  const auto& tp = std::get<TpDecodeSpec>(s.workloads[0].params);
  EXPECT_EQ(tp.tp, 8u);
  EXPECT_EQ(tp.batch, 16u);    // counts are not scaled
  EXPECT_EQ(tp.tokens, 512u);  // 1k tokens x 0.5

  EXPECT_EQ(s.workloads[1].name, "pd_disagg");
  const auto& pd = std::get<PdDisaggSpec>(s.workloads[1].params);
  EXPECT_EQ(pd.requests, 2u);  // one per listed context
  EXPECT_EQ(pd.context.kind, ContextLengths::Kind::kList);
  EXPECT_EQ(pd.context.list, (std::vector<uint64_t>{2048, 500}));
  EXPECT_EQ(pd.arrival_rate, 2.5);
  EXPECT_EQ(pd.arrival, Arrival::kFixed);
  EXPECT_EQ(pd.prefill.instances, 2u);
  EXPECT_EQ(pd.prefill.tp, 4u);
  EXPECT_EQ(pd.decode.instances, 1u);
  EXPECT_EQ(pd.decode.tp, 8u);
  EXPECT_EQ(pd.block_size, 32u);

  const auto& moe = std::get<MoeSpec>(s.workloads[2].params);
  EXPECT_EQ(moe.ep, 8u);
  EXPECT_EQ(moe.tokens_per_rank, 32u);
  EXPECT_EQ(moe.top_k, 1u);
  EXPECT_EQ(moe.routing_skew, 1.2);
  EXPECT_EQ(moe.rounds, 3u);
  EXPECT_EQ(moe.dispatch_dtype, DispatchDtype::kFp8);

  const auto& pp = std::get<PipelineSpec>(s.workloads[3].params);
  EXPECT_EQ(pp.stages, 4u);
  EXPECT_EQ(pp.tp, 4u);
  EXPECT_EQ(pp.ranks(), 16u);
  EXPECT_EQ(pp.micro_batches, 6u);
  EXPECT_EQ(pp.micro_batch_tokens, 1024u);
  EXPECT_EQ(pp.max_in_flight, 8u);

  const auto& weights = std::get<WeightLoadSpec>(s.workloads[4].params);
  EXPECT_EQ(weights.bytes, uint64_t{5} << 30);
  EXPECT_FALSE(weights.bytes_from_model);
  EXPECT_EQ(weights.placement, WeightPlacement::kPerGpu);
  EXPECT_EQ(weights.ranks, 16u);
  EXPECT_EQ(weights.fanout, 3u);
  EXPECT_EQ(weights.chunk_bytes, 2u << 20);  // chunk sizes are not scaled

  ASSERT_EQ(s.faults.size(), 3u);
  EXPECT_EQ(s.faults[0].at_ns, 1'500'000u);
  EXPECT_EQ(s.faults[0].kind, FaultKind::kLinkDown);
  EXPECT_EQ(s.faults[0].node, 3u);
  EXPECT_EQ(s.faults[0].nic, 1u);
  EXPECT_EQ(s.faults[1].kind, FaultKind::kLossRate);
  EXPECT_EQ(s.faults[1].value, 0.25);
  EXPECT_EQ(s.faults[2].at_ns, 1'000'000'000u);
  EXPECT_EQ(s.faults[2].nic, std::nullopt);
}

constexpr std::string_view kMinimal = R"(
cluster: {nodes: 2, gpus_per_node: 4, nic_rate: 100 Gb/s}
fabric: {provider: emu}
model: deepseek-v3
workloads:
  - {kind: moe, ep: 8, tokens_per_rank: 16}
  - {kind: weight_load}
  - kind: pd_disagg
    requests: 10
    context: {distribution: lognormal, median: 2k, sigma: 1, max: 32k}
    prefill: {tp: 4}
    decode: {tp: 4}
)";

TEST(ScenarioParser, FillsInDefaults) {
  const Scenario s = parse(kMinimal);
  EXPECT_EQ(s.scale, 1);
  EXPECT_EQ(s.cluster.nic_gbps, std::vector<double>{100});  // one NIC unless told
  EXPECT_EQ(s.cluster.topology, Topology::kSingleSwitch);
  const EmuFabric& emu = std::get<EmuFabric>(s.fabric.params);
  EXPECT_EQ(emu.mode, EmuMode::kDeterministic);
  EXPECT_EQ(emu.seed, 1u);
  EXPECT_EQ(emu.reorder_window_ns, 5'000u);
  EXPECT_EQ(emu.loss, 0);
  EXPECT_EQ(emu.delay_ns, 1'000u);

  const auto& moe = std::get<MoeSpec>(s.workloads[0].params);
  EXPECT_EQ(moe.top_k, 8u);  // the model's
  EXPECT_EQ(moe.routing_skew, 0);
  EXPECT_EQ(moe.rounds, 1u);
  EXPECT_EQ(moe.dispatch_dtype, DispatchDtype::kBf16);

  const auto& weights = std::get<WeightLoadSpec>(s.workloads[1].params);
  EXPECT_TRUE(weights.bytes_from_model);
  EXPECT_EQ(weights.bytes, s.model.parameter_bytes());
  EXPECT_EQ(weights.ranks, 8u);  // every GPU
  EXPECT_EQ(weights.fanout, 1u);
  EXPECT_EQ(weights.chunk_bytes, 256u << 10);

  const auto& pd = std::get<PdDisaggSpec>(s.workloads[2].params);
  EXPECT_EQ(pd.context.kind, ContextLengths::Kind::kLognormal);
  EXPECT_EQ(pd.context.median, 2048u);
  EXPECT_EQ(pd.context.min, 1u);
  EXPECT_EQ(pd.context.max, 32768u);
  EXPECT_EQ(pd.context.largest(), 32768u);
  EXPECT_EQ(pd.arrival_rate, 0);
  EXPECT_EQ(pd.block_size, 16u);
  EXPECT_TRUE(s.faults.empty());
}

TEST(ScenarioParser, CallerScaleMultipliesTheFilesAndNeverReachesZero) {
  const Scenario s = parse(kEveryWorkload, {.scale = 0.001});
  EXPECT_DOUBLE_EQ(s.scale, 0.0005);
  EXPECT_EQ(std::get<TpDecodeSpec>(s.workloads[0].params).tokens, 1u);  // 0.512 rounds up to the floor of 1
  EXPECT_EQ(std::get<PdDisaggSpec>(s.workloads[1].params).context.list, (std::vector<uint64_t>{2, 1}));
  EXPECT_EQ(std::get<WeightLoadSpec>(s.workloads[4].params).bytes, 5'368'709u);  // 10 GiB x 0.0005, rounded
}

TEST(ScenarioParser, TopologyShorthandTakesDefaults) {
  const Scenario s = parse(R"(
cluster: {nodes: 5, gpus_per_node: 1, nics_per_node: 2, nic_rate: 50 Gb/s, topology: leaf_spine}
fabric: {provider: verbs, devices: mlx5}
model: llama-3-70b
workloads: [{kind: weight_load, size: 1 GB, placement: per_node}]
)");
  EXPECT_EQ(s.cluster.nic_gbps, (std::vector<double>{50, 50}));
  EXPECT_EQ(s.cluster.topology, Topology::kLeafSpine);
  EXPECT_EQ(s.cluster.nodes_per_leaf, 3u);  // two leaves
  EXPECT_EQ(s.cluster.spines, 2u);
  EXPECT_EQ(s.cluster.oversubscription, 1);
  EXPECT_EQ(std::get<VerbsFabric>(s.fabric.params).devices, std::vector<std::string>{"mlx5"});
  EXPECT_EQ(std::get<WeightLoadSpec>(s.workloads[0].params).ranks, 5u);  // every node
  const VerbsFabric& defaults = std::get<VerbsFabric>(s.fabric.params);
  EXPECT_FALSE(defaults.port || defaults.gid_index || defaults.max_inline);
}

TEST(ScenarioParser, VerbsDevicePortGidAndInlineSize) {
  const Scenario s = parse(R"(
cluster: {nodes: 2, gpus_per_node: 1, nic_rate: 200 Gb/s}
fabric: {provider: verbs, devices: [mlx5_0, mlx5_1], port: 2, gid_index: 3, max_inline: 32 B}
model: llama-3-70b
workloads: [{kind: weight_load, size: 1 GB}]
)");
  const VerbsFabric& v = std::get<VerbsFabric>(s.fabric.params);
  EXPECT_EQ(v.devices, (std::vector<std::string>{"mlx5_0", "mlx5_1"}));
  EXPECT_EQ(v.port, std::optional<uint32_t>(2));
  EXPECT_EQ(v.gid_index, std::optional<uint32_t>(3));
  EXPECT_EQ(v.max_inline, std::optional<uint32_t>(32));
}

TEST(ScenarioParser, PresetOverridesAndCustomModels) {
  const Scenario fp8 = parse(R"(
cluster: {nodes: 1, gpus_per_node: 8, nic_rate: 400 Gb/s}
fabric: {provider: sim, transport: srd, loss: 0.001}
model: {preset: kimi-k2, dtype_bytes: 1, name: kimi-k2-fp8}
workloads: [{kind: moe, ep: 8, tokens_per_rank: 1}]
)");
  EXPECT_EQ(fp8.model.name, "kimi-k2-fp8");
  EXPECT_EQ(fp8.model.dtype_bytes, 1u);
  EXPECT_EQ(fp8.model.experts, 384u);
  EXPECT_EQ(fp8.model.kv_bytes_per_token(), 61u * 576);
  EXPECT_EQ(std::get<SimFabric>(fp8.fabric.params).transport, SimTransport::kSrd);

  const Scenario custom = parse(R"(
cluster: {nodes: 2, gpus_per_node: 2, nic_rate: 100 Gb/s}
fabric: {provider: emu, mode: fast}
model:
  custom:
    name: tiny-mla-moe
    attention: mla
    layers: 4
    hidden_size: 256
    attention_heads: 4
    intermediate_size: 512
    vocab_size: 1000
    kv_lora_rank: 32
    qk_rope_head_dim: 16
    qk_nope_head_dim: 32
    v_head_dim: 32
    experts: 8
    experts_per_token: 2
    expert_intermediate_size: 128
    dense_layers: 1
    dtype_bytes: 4
workloads: [{kind: moe, ep: 4, tokens_per_rank: 2}]
)");
  const ModelSpec& m = custom.model;
  EXPECT_EQ(m.name, "tiny-mla-moe");
  EXPECT_EQ(m.attention, Attention::kMla);
  EXPECT_EQ(m.kv_heads, 4u);
  EXPECT_EQ(m.head_dim, 48u);
  EXPECT_EQ(m.kv_bytes_per_token(), 4u * (32 + 16) * 4);
  EXPECT_EQ(m.expert_bytes(), 3u * 256 * 128 * 4);
  EXPECT_EQ(m.moe_layers(), 3u);
  EXPECT_EQ(m.shared_experts, 0u);
}

TEST(WorkloadVolume, FiguresFromShapeAndModel) {
  const Scenario s = parse(kEveryWorkload);
  const ModelSpec& m = s.model;  // mixtral-8x22b: hidden 6144, bf16
  EXPECT_EQ(tp_decode_allreduce_bytes(std::get<TpDecodeSpec>(s.workloads[0].params), m), 16u * 6144 * 2);
  EXPECT_EQ(tp_decode_allreduces_per_token(m), 2u * 56);
  EXPECT_EQ(pd_request_kv_bytes(2048, m), 2048u * 229'376);
  // fp8 dispatch: 6144 e4m3 bytes and 48 fp32 scales a row; combine stays bf16.
  MoeSpec moe = std::get<MoeSpec>(s.workloads[2].params);
  EXPECT_EQ(moe_dispatch_bytes_per_rank(moe, m), 32u * 1 * (6144 + 48 * 4));
  EXPECT_EQ(moe_combine_bytes_per_rank(moe, m), 32u * 1 * 6144 * 2);
  moe.dispatch_dtype = DispatchDtype::kBf16;
  EXPECT_EQ(moe_dispatch_bytes_per_rank(moe, m), 32u * 1 * 6144 * 2);
  EXPECT_EQ(pipeline_micro_batch_bytes(std::get<PipelineSpec>(s.workloads[3].params), m), 1024u * 6144 * 2);
  EXPECT_EQ(weight_load_chunks(std::get<WeightLoadSpec>(s.workloads[4].params)), 2560u);  // 5 GiB / 2 MiB
}

}  // namespace
}  // namespace ferry::scenarios
