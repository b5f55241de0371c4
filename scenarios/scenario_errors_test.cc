// Every class of error a scenario can have, each with its exact place and message.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "scenarios/scenario_parser.h"

namespace ferry::scenarios {
namespace {

// A valid scenario; each test breaks one thing in it, keeping the line numbers.
constexpr std::string_view kValid =
    "cluster:\n"               // 1
    "  nodes: 2\n"             // 2
    "  gpus_per_node: 8\n"     // 3
    "  nics_per_node: 2\n"     // 4
    "  nic_rate: 200 Gb/s\n"   // 5
    "fabric:\n"                // 6
    "  provider: emu\n"        // 7
    "  mode: deterministic\n"  // 8
    "model: llama-3-70b\n"     // 9
    "workloads:\n"             // 10
    "  - kind: tp_decode\n"    // 11
    "    tp: 8\n"              // 12
    "    batch: 4\n"           // 13
    "    tokens: 16\n";        // 14

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// kValid with lines 11-14 (the one workload) replaced.
std::string with_workload(std::string_view workload) {
  return replaced(std::string(kValid), "  - kind: tp_decode\n    tp: 8\n    batch: 4\n    tokens: 16\n", workload);
}

std::vector<std::string> errors(std::string_view text) {
  const ScenarioParse parsed = parse_scenario(text, "bad.yaml");
  EXPECT_EQ(parsed.ok(), parsed.scenario.has_value());
  std::vector<std::string> out;
  for (const Diagnostic& error : parsed.errors) out.push_back(error.to_string());
  return out;
}

using Lines = std::vector<std::string>;

TEST(ScenarioErrors, TheBaseScenarioIsValid) { EXPECT_EQ(errors(kValid), Lines{}); }

// --- malformed YAML and what the tree refuses -----------------------------------------

TEST(ScenarioErrors, MalformedYamlKeepsLibyamlsWordsAndPlace) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nodes: 2\n", "  nodes: 2: 3\n")),
            Lines{"bad.yaml:2:11: malformed YAML: mapping values are not allowed in this context"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nodes: 2\n", "  nodes: [2\n")),
            Lines{"bad.yaml:3:16: malformed YAML: did not find expected ',' or ']' (while parsing a flow sequence "
                  "at line 2, column 10)"});
}

TEST(ScenarioErrors, TabIndentationIsExplained) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nodes: 2\n", "\tnodes: 2\n")),
            Lines{"bad.yaml:2:1: malformed YAML: found character that cannot start any token (while scanning for the "
                  "next token at line 2, column 1); YAML indents with spaces, not tabs"});
}

TEST(ScenarioErrors, DuplicateKeys) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nics_per_node: 2\n", "  nodes: 3\n")),
            Lines{"bad.yaml:4:3: duplicate key 'nodes' (first at line 2, column 3)"});
}

TEST(ScenarioErrors, Aliases) {
  std::string text = replaced(std::string(kValid), "  gpus_per_node: 8\n", "  gpus_per_node: &g 8\n");
  text = replaced(text, "  nics_per_node: 2\n", "  nics_per_node: *g\n");
  EXPECT_EQ(errors(text), Lines{"bad.yaml:4:18: aliases (*g) are not supported; write the value out"});
}

TEST(ScenarioErrors, OneDocumentPerFile) {
  EXPECT_EQ(errors(std::string(kValid) + "---\ncluster: {}\n"),
            Lines{"bad.yaml:15:1: a scenario file holds one YAML document; a second one starts here"});
}

TEST(ScenarioErrors, NestingDepthIsBounded) {
  EXPECT_EQ(errors("a: " + std::string(100, '[')), Lines{"bad.yaml:1:67: nesting deeper than 64 levels"});
}

TEST(ScenarioErrors, ComplexKeys) {
  EXPECT_EQ(errors("? [a, b]\n: 1\n"), Lines{"bad.yaml:1:3: a key must be a plain name, not a list"});
}

TEST(ScenarioErrors, EmptyFileAndWrongTopLevel) {
  EXPECT_EQ(errors(""),
            Lines{"bad.yaml:1:1: the file is empty; a scenario needs cluster, fabric, model and workloads"});
  EXPECT_EQ(errors("# only a comment\n"),
            Lines{"bad.yaml:1:1: the file is empty; a scenario needs cluster, fabric, model and workloads"});
  EXPECT_EQ(errors("- cluster\n"), Lines{"bad.yaml:1:1: expected a mapping of keys (cluster, fabric, model, "
                                         "workloads, ...) at the top level, got a list"});
}

// --- keys -----------------------------------------------------------------------------

TEST(ScenarioErrors, UnknownKeySuggestsTheNearestKnownOne) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  gpus_per_node: 8\n", "  gpu_per_node: 8\n")),
            (Lines{"bad.yaml:2:3: cluster: missing required key 'gpus_per_node'",
                   "bad.yaml:3:3: cluster: unknown key 'gpu_per_node' (did you mean 'gpus_per_node'?)"}));
  EXPECT_EQ(errors(std::string(kValid) + "faultz: []\n"),
            Lines{"bad.yaml:15:1: unknown key 'faultz' (did you mean 'faults'?)"});
}

TEST(ScenarioErrors, UnknownKeyWithoutNearKeyListsTheKnownOnes) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "    batch: 4\n", "    colour: blue\n")),
            (Lines{"bad.yaml:11:5: workloads[0]: missing required key 'batch'",
                   "bad.yaml:13:5: workloads[0]: unknown key 'colour' (expected one of: kind, name, tp, batch, "
                   "tokens)"}));
}

TEST(ScenarioErrors, MissingRequiredKeysAndSections) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "model: llama-3-70b\n", "")),
            Lines{"bad.yaml:1:1: missing required key 'model'"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "    tokens: 16\n", "")),
            Lines{"bad.yaml:11:5: workloads[0]: missing required key 'tokens'"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "  provider: emu\n", "  seed: 3\n")),
            Lines{"bad.yaml:7:3: fabric: missing required key 'provider'"});
}

TEST(ScenarioErrors, KeysOfAnotherProviderSayWhoseTheyAre) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  mode: deterministic\n", "  transport: roce\n")),
            Lines{"bad.yaml:8:3: fabric: key 'transport' applies to provider sim, not emu"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "  mode: deterministic\n", "  gid_index: 3\n")),
            Lines{"bad.yaml:8:3: fabric: key 'gid_index' applies to provider verbs, not emu"});
}

TEST(ScenarioErrors, KeysOfAnotherVariantSayWhichTheyBelongTo) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nic_rate: 200 Gb/s\n",
                            "  nic_rate: 200 Gb/s\n  topology: {kind: single_switch, spines: 4}\n")),
            Lines{"bad.yaml:6:35: cluster.topology: key 'spines' applies to topology leaf_spine, not single_switch"});
}

// --- values ---------------------------------------------------------------------------

TEST(ScenarioErrors, WrongTypes) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nodes: 2\n", "  nodes: four\n")),
            Lines{"bad.yaml:2:10: cluster.nodes: expected a whole number such as \"8\", got 'four'"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "  gpus_per_node: 8\n", "  gpus_per_node: [8]\n")),
            Lines{"bad.yaml:3:18: cluster.gpus_per_node: expected a whole number, got a list"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nodes: 2\n", "  nodes:\n")),
            Lines{"bad.yaml:2:9: cluster.nodes: expected a whole number, got nothing"});
  EXPECT_EQ(
      errors(replaced(std::string(kValid), "fabric:\n  provider: emu\n  mode: deterministic\n", "fabric: [emu]\n\n\n")),
      Lines{"bad.yaml:6:9: fabric: expected a mapping of keys, got a list"});
  EXPECT_EQ(errors(with_workload("  - tp_decode\n")),
            Lines{"bad.yaml:11:5: workloads[0]: expected a mapping of keys, got 'tp_decode'"});
}

TEST(ScenarioErrors, UnknownChoicesSuggest) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  provider: emu\n", "  provider: emux\n")),
            Lines{"bad.yaml:7:13: fabric.provider: unknown value 'emux' (did you mean 'emu'?)"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "  - kind: tp_decode\n", "  - kind: tensor_parallel\n")),
            Lines{"bad.yaml:11:11: workloads[0].kind: unknown value 'tensor_parallel' (expected one of: tp_decode, "
                  "pd_disagg, moe, pp, weight_load)"});
}

TEST(ScenarioErrors, NegativeAndImpossibleSizes) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nodes: 2\n", "  nodes: 0\n")),
            Lines{"bad.yaml:2:10: cluster.nodes: must be at least 1, got 0"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nodes: 2\n", "  nodes: -2\n")),
            Lines{"bad.yaml:2:10: cluster.nodes: a whole number cannot be negative, got '-2'"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "  gpus_per_node: 8\n", "  gpus_per_node: 100\n")),
            Lines{"bad.yaml:3:18: cluster.gpus_per_node: must be at most 64, got 100"});
  EXPECT_EQ(errors(with_workload("  - kind: weight_load\n    size: -4 KiB\n")),
            Lines{"bad.yaml:12:11: workloads[0].size: a size cannot be negative, got '-4 KiB'"});
  EXPECT_EQ(errors(with_workload("  - kind: weight_load\n    size: 1 GB\n    chunk: 0 KiB\n")),
            Lines{"bad.yaml:13:12: workloads[0].chunk: must be at least 1 B, got 0 B"});
  EXPECT_EQ(errors(with_workload("  - kind: tp_decode\n    tp: 1\n    batch: 4\n    tokens: 16\n")),
            Lines{"bad.yaml:12:9: workloads[0].tp: must be at least 2, got 1"});
}

TEST(ScenarioErrors, UnitMistakes) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nic_rate: 200 Gb/s\n", "  nic_rate: 200\n")),
            Lines{"bad.yaml:5:13: cluster.nic_rate: a rate needs a unit (Kb/s, Mb/s, Gb/s, Tb/s, Kbps, Mbps, Gbps, "
                  "Tbps, Mbit/s, Gbit/s, Tbit/s, KB/s, MB/s, GB/s, TB/s), got '200'"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nic_rate: 200 Gb/s\n", "  nic_rate: 200 Gbs\n")),
            Lines{"bad.yaml:5:13: cluster.nic_rate: unknown rate unit 'Gbs' in '200 Gbs' (did you mean 'Gb/s'?)"});
  EXPECT_EQ(
      errors(replaced(std::string(kValid), "  mode: deterministic\n", "  delay: 5\n")),
      Lines{"bad.yaml:8:10: fabric.delay: a duration needs a unit (ns, us, \xC2\xB5s, \xCE\xBCs, ms, s), got '5'"});
}

TEST(ScenarioErrors, RateListsMatchTheNics) {
  EXPECT_EQ(
      errors(replaced(std::string(kValid), "  nic_rate: 200 Gb/s\n", "  nic_rate: [200 Gb/s, 100 Gb/s, 1 Gb/s]\n")),
      Lines{"bad.yaml:5:13: cluster.nic_rate: 3 rates for 2 NICs per node; give one rate, or one per NIC"});
}

// --- the model ------------------------------------------------------------------------

TEST(ScenarioErrors, UnknownPresetSuggests) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "model: llama-3-70b\n", "model: llama-3-7b\n")),
            Lines{"bad.yaml:9:8: model: unknown preset 'llama-3-7b' (did you mean 'llama-3-70b'?)"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "model: llama-3-70b\n", "model: gpt-5\n")),
            Lines{"bad.yaml:9:8: model: unknown preset 'gpt-5' (expected one of: llama-3-70b, llama-3-405b, "
                  "deepseek-v3, mixtral-8x22b, kimi-k2)"});
}

TEST(ScenarioErrors, CustomModelsAreCheckedInFull) {
  const std::string model =
      "model:\n"                                                     // 9
      "  custom: {name: tiny, layers: 4, hidden_size: 512,\n"        // 10
      "           attention_heads: 8, kv_heads: 3, head_dim: 64,\n"  // 11
      "           vocab_size: 1000, kv_lora_rank: 64}\n";            // 12
  EXPECT_EQ(errors(replaced(std::string(kValid), "model: llama-3-70b\n", model)),
            (Lines{"bad.yaml:10:11: model.custom: missing required key 'intermediate_size'",
                   "bad.yaml:11:42: model.custom.kv_heads: must divide the 8 attention heads, got 3",
                   "bad.yaml:12:30: model.custom: key 'kv_lora_rank' applies to attention mla, not gqa"}));
  EXPECT_EQ(errors(replaced(std::string(kValid), "model: llama-3-70b\n", "model: {preset: kimi-k2, custom: {}}\n")),
            Lines{"bad.yaml:9:8: model: give either preset or custom, not both"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "model: llama-3-70b\n", "model: {preset: kimi-k2, attention: gqa}\n")),
            Lines{"bad.yaml:9:26: model: key 'attention' cannot change a preset's attention; write the model out "
                  "under custom"});
}

// --- workloads against the cluster and the model ---------------------------------------

TEST(ScenarioErrors, TensorParallelismLargerThanTheCluster) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "    tp: 8\n", "    tp: 32\n")),
            Lines{"bad.yaml:12:9: workloads[0].tp: tp 32 needs 32 GPUs; the cluster has 16 (2 nodes x 8 GPUs)"});
}

TEST(ScenarioErrors, TensorParallelismMustSplitTheHeads) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "    tp: 8\n", "    tp: 3\n")),
            Lines{"bad.yaml:12:9: workloads[0].tp: tp 3 does not divide the 64 attention heads of llama-3-70b"});
  std::string mixtral = replaced(std::string(kValid), "model: llama-3-70b\n", "model: mixtral-8x22b\n");
  EXPECT_EQ(errors(replaced(mixtral, "    tp: 8\n", "    tp: 12\n")),
            Lines{"bad.yaml:12:9: workloads[0].tp: tp 12 and the 8 KV heads of mixtral-8x22b do not divide one "
                  "another (each rank holds kv_heads / tp heads, or each head sits on tp / kv_heads ranks)"});
}

TEST(ScenarioErrors, ExpertParallelism) {
  const std::string deepseek = replaced(std::string(kValid), "model: llama-3-70b\n", "model: deepseek-v3\n");
  const std::string moe = "  - kind: moe\n    ep: 64\n    tokens_per_rank: 8\n";
  EXPECT_EQ(errors(replaced(deepseek, "  - kind: tp_decode\n    tp: 8\n    batch: 4\n    tokens: 16\n", moe)),
            Lines{"bad.yaml:12:9: workloads[0].ep: ep 64 needs 64 GPUs; the cluster has 16 (2 nodes x 8 GPUs)"});
  const std::string ep12 = "  - kind: moe\n    ep: 12\n    tokens_per_rank: 8\n";
  EXPECT_EQ(errors(replaced(deepseek, "  - kind: tp_decode\n    tp: 8\n    batch: 4\n    tokens: 16\n", ep12)),
            Lines{"bad.yaml:12:9: workloads[0].ep: ep 12 does not divide the 256 experts of deepseek-v3"});
  EXPECT_EQ(errors(with_workload(moe)),
            (Lines{"bad.yaml:11:11: workloads[0].kind: moe needs a mixture-of-experts model, and llama-3-70b has no "
                   "experts",
                   "bad.yaml:12:9: workloads[0].ep: ep 64 needs 64 GPUs; the cluster has 16 (2 nodes x 8 GPUs)"}));
}

TEST(ScenarioErrors, Fp8DispatchNeedsWholeScaleGroups) {
  const std::string custom = replaced(std::string(kValid), "model: llama-3-70b\n",
                                      "model: {preset: deepseek-v3, hidden_size: 7000}\n");
  const std::string moe = "  - kind: moe\n    ep: 8\n    tokens_per_rank: 8\n    dispatch_dtype: fp8\n";
  EXPECT_EQ(errors(replaced(custom, "  - kind: tp_decode\n    tp: 8\n    batch: 4\n    tokens: 16\n", moe)),
            Lines{"bad.yaml:14:21: workloads[0].dispatch_dtype: fp8 dispatch scales groups of 128 elements, and the "
                  "hidden size 7000 of deepseek-v3 is not a multiple of it"});
}

TEST(ScenarioErrors, DisaggregatedPoolsNeedTheirOwnNodes) {
  EXPECT_EQ(errors(with_workload("  - kind: pd_disagg\n    context: 8k\n    prefill: {tp: 8, instances: 2}\n"
                                 "    decode: {tp: 8}\n")),
            Lines{"bad.yaml:11:5: workloads[0]: the prefill pool (2 x tp 8 = 16 GPUs) and the decode pool (1 x tp 8 "
                  "= 8 GPUs) need 3 nodes of 8 GPUs, as pools do not share nodes; the cluster has 2"});
  EXPECT_EQ(errors(with_workload("  - kind: pd_disagg\n    context: {distribution: uniform, min: 4k, max: 2k}\n"
                                 "    prefill: {tp: 6}\n    decode: {tp: 8}\n")),
            (Lines{"bad.yaml:11:5: workloads[0]: missing required key 'requests'",
                   "bad.yaml:12:43: workloads[0].context.min: must be at most max (2048 tokens), got 4096",
                   "bad.yaml:13:19: workloads[0].prefill.tp: tp 6 does not divide the 64 attention heads of "
                   "llama-3-70b"}));
}

TEST(ScenarioErrors, PipelineStagesNeedLayersAndGpus) {
  EXPECT_EQ(errors(with_workload("  - kind: pp\n    stages: 100\n    micro_batches: 4\n    micro_batch_tokens: 1k\n")),
            (Lines{"bad.yaml:12:13: workloads[0].stages: 100 stages for the 80 layers of llama-3-70b: each stage "
                   "needs a layer at least",
                   "bad.yaml:12:13: workloads[0].stages: 100 stages x tp 1 needs 100 GPUs; the cluster has 16 (2 "
                   "nodes x 8 GPUs)"}));
}

TEST(ScenarioErrors, PipelineInFlightWithinTheLinksWindow) {
  EXPECT_EQ(errors(with_workload("  - kind: pp\n    stages: 2\n    micro_batches: 4\n    micro_batch_tokens: 1k\n"
                                 "    max_in_flight: 33\n")),
            (Lines{"bad.yaml:15:20: workloads[0].max_in_flight: must be at most 32, got 33"}));
}

TEST(ScenarioErrors, WeightLoadPerNodeCountsNodes) {
  EXPECT_EQ(errors(with_workload("  - kind: weight_load\n    placement: per_node\n    ranks: 4\n")),
            Lines{"bad.yaml:13:12: workloads[0].ranks: ranks 4 needs 4 nodes; the cluster has 2"});
}

// --- the fabric -----------------------------------------------------------------------

TEST(ScenarioErrors, FabricParametersThatContradictEachOther) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  mode: deterministic\n", "  mode: fast\n  loss: 0.01\n")),
            Lines{"bad.yaml:9:9: fabric.loss: emu models loss only in mode deterministic (fast mode has no timing "
                  "model)"});
  const std::string sim = "  provider: sim\n  loss: 0.01\n  dcqcn: {}\n";
  EXPECT_EQ(errors(replaced(std::string(kValid), "  provider: emu\n  mode: deterministic\n", sim)),
            (Lines{"bad.yaml:8:9: fabric.loss: a lossless fabric (pfc: true) drops nothing; set pfc: false to model "
                   "loss",
                   "bad.yaml:9:10: fabric.dcqcn: DCQCN reacts to ECN marks; add fabric.ecn"}));
  const std::string srd = "  provider: sim\n  transport: srd\n  pfc: true\n";
  EXPECT_EQ(errors(replaced(std::string(kValid), "  provider: emu\n  mode: deterministic\n", srd)),
            Lines{"bad.yaml:9:3: fabric: key 'pfc' applies to transport roce, not srd (SRD retransmits selectively "
                  "and runs its own congestion control)"});
}

// --- faults ---------------------------------------------------------------------------

TEST(ScenarioErrors, FaultsTargetWhatExists) {
  const std::string faults =
      "faults:\n"                                                 // 15
      "  - {at: 1 ms, kind: link_down, node: 5, nic: 0}\n"        // 16
      "  - {at: 2 ms, kind: nic_death, node: 0, nic: 2}\n"        // 17
      "  - {at: 3 ms, kind: node_loss, node: 1, nic: 0}\n"        // 18
      "  - {at: 4 ms, kind: loss_rate, node: 0, nic: 0}\n"        // 19
      "  - {at: 5, kind: link_up, node: 0, nic: 0, value: 1}\n";  // 20
  EXPECT_EQ(
      errors(std::string(kValid) + faults),
      (Lines{"bad.yaml:16:39: faults[0].node: node 5 does not exist: the cluster has 2 nodes, numbered from 0",
             "bad.yaml:17:47: faults[1].nic: nic 2 does not exist: nodes have 2 NICs, numbered from 0",
             "bad.yaml:18:42: faults[2]: key 'nic' does not apply to node_loss (the whole node goes)",
             "bad.yaml:19:5: faults[3]: missing required key 'value'",
             "bad.yaml:20:10: faults[4].at: a duration needs a unit (ns, us, \xC2\xB5s, \xCE\xBCs, ms, s), got '5'",
             "bad.yaml:20:45: faults[4]: key 'value' applies to loss_rate only"}));
}

TEST(ScenarioErrors, FaultsNeedAFabricThatInjectsThem) {
  const std::string fault = "faults:\n  - {at: 1 ms, kind: loss_rate, node: 0, nic: 0, value: 0.1}\n";
  EXPECT_EQ(
      errors(replaced(std::string(kValid), "  provider: emu\n  mode: deterministic\n", "  provider: verbs\n") + fault),
      Lines{"bad.yaml:15:3: faults: the verbs provider cannot inject faults; use provider emu or sim"});
  EXPECT_EQ(
      errors(replaced(std::string(kValid), "  provider: emu\n  mode: deterministic\n", "  provider: tcp\n") + fault),
      Lines{"bad.yaml:15:3: faults: the tcp provider cannot inject faults; use provider emu or sim"});
  EXPECT_EQ(errors(replaced(std::string(kValid), "  mode: deterministic\n", "  mode: fast\n") + fault),
            Lines{"bad.yaml:16:22: faults[0].kind: loss_rate needs emu mode deterministic (fast mode has no loss "
                  "model)"});
}

// --- the whole file -------------------------------------------------------------------

TEST(ScenarioErrors, EveryErrorIsCollectedInFileOrder) {
  std::string text = replaced(std::string(kValid), "  nodes: 2\n", "  nodes: two\n");
  text = replaced(text, "  mode: deterministic\n", "  mode: slow\n");
  text = replaced(text, "    batch: 4\n", "    batch: -4\n");
  EXPECT_EQ(errors(text),
            (Lines{"bad.yaml:2:10: cluster.nodes: expected a whole number such as \"8\", got 'two'",
                   "bad.yaml:8:9: fabric.mode: unknown value 'slow' (expected one of: fast, deterministic)",
                   "bad.yaml:13:12: workloads[0].batch: a whole number cannot be negative, got '-4'"}));
}

TEST(ScenarioErrors, ScaleOutOfRange) {
  EXPECT_EQ(errors("scale: 0\n" + std::string(kValid)), Lines{"bad.yaml:1:8: scale: must be in (0, 1e+06], got 0"});
  const ScenarioParse parsed = parse_scenario("scale: 1000\n" + std::string(kValid), "bad.yaml", {.scale = 5000});
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_EQ(parsed.errors[0].to_string(),
            "bad.yaml:1:8: scale: the file's 1000 times the caller's 5000 must be in (0, 1e+06]");
}

TEST(ScenarioErrors, UnreadableFiles) {
  const ScenarioParse parsed = load_scenario("/nonexistent/x.yaml");
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_EQ(parsed.errors[0].to_string(), "/nonexistent/x.yaml: cannot read: No such file or directory");
  const ScenarioParse directory = load_scenario("/");
  ASSERT_EQ(directory.errors.size(), 1u);
  EXPECT_EQ(directory.errors[0].to_string(), "/: cannot read: it is a directory");
}

TEST(ScenarioErrors, ControlCharactersAreEscapedInMessages) {
  EXPECT_EQ(errors(replaced(std::string(kValid), "  nodes: 2\n", "  nodes: \"a\\x01b\"\n")),
            Lines{"bad.yaml:2:10: cluster.nodes: expected a whole number such as \"8\", got 'a\\x01b'"});
}

}  // namespace
}  // namespace ferry::scenarios
