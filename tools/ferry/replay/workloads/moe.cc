// moe: expert-parallel dispatch of every token to its top-k experts' ranks and combine
// of their outputs back, over the ep ranks, with Zipf-skewed routing drawn from the seed;
// the experts are the identity, so every token must come back as itself (within fp8's
// precision when dispatch is fp8: the experts then see the dequantised token).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <span>

#include "transport/random.h"
#include "scenarios/units.h"
#include "scenarios/workload_volume.h"
#include "tools/ferry/replay/workload_runner.h"
#include "transport/engine/task.h"
#include "transport/workloads/moe/expert_parallel.h"
#include "transport/workloads/moe/fp8.h"

namespace ferry::replay {
namespace {

using namespace scenarios;
// Drawn from emu's generator, not <random>: the same seed gives the same routing with
// every standard library (docs/architecture.md, Determinism).
using ferry::Rng;

// An index drawn with probability weights[i] / their sum (weights >= 0, one at least > 0).
uint32_t weighted_draw(const std::vector<double>& weights, Rng& rng) {
  double total = 0;
  for (double w : weights) total += w;
  double u = rng.unit() * total;
  uint32_t last = 0;
  for (uint32_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0) continue;
    if (u < weights[i]) return i;
    u -= weights[i];
    last = i;
  }
  return last;  // rounding carried u past the last weight
}

uint16_t bf16_of(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return static_cast<uint16_t>(bits >> 16);  // exact for the small integers used here
}
float float_of(uint16_t b) {
  const uint32_t bits = uint32_t{b} << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

static_assert(kFp8ScaleGroup == moe::kFp8GroupElements);

void run_moe(RunContext& c, const MoeSpec& spec) {
  const ModelSpec& model = c.scenario.model;
  const bool fp8 = spec.dispatch_dtype == DispatchDtype::kFp8;
  moe::MoeConfig config;
  config.experts = model.experts;
  config.top_k = spec.top_k;
  config.hidden = model.hidden_size;
  config.element_bytes = fp8 ? 1 : 2;
  config.scale_group = fp8 ? moe::kFp8GroupElements : 0;
  config.max_tokens = static_cast<uint32_t>(spec.tokens_per_rank);
  config.mode = moe::MoeMode::kNormal;
  const uint32_t ep = spec.ep, tokens = config.max_tokens, k = config.top_k, hidden = config.hidden;
  const uint64_t row_bytes = fp8 ? moe::fp8_row_bytes(hidden) : uint64_t{hidden} * 2;
  // How far a combined element may be from its token (|x| <= 32, weights 1/k): combine
  // rounds to bf16 twice, each expert rank's partial sum and then their sum, each at most
  // 2^-9 relative, so within 2 x 2^-9 x 32 = 0.125 in all; fp8 adds e4m3's 2^-4 relative
  // step on groups whose largest value is 32 (at most 2).
  const float tolerance = fp8 ? 2.25f : 0.25f;
  c.report.planned = 2ull * spec.rounds;
  const std::vector<uint32_t> ranks = iota_ranks(0, ep);
  if (!c.takes_part(ranks)) return;
  std::vector<std::unique_ptr<Group>>& groups = c.world.groups(ranks);
  auto region_bytes = moe::ExpertParallel::region_bytes(config, ep);
  if (!region_bytes.ok()) return c.error(region_bytes.error().to_string());
  Result<SymmetricRegion*> symmetric = c.world.symmetric(ranks, *region_bytes);
  if (!symmetric.ok()) return c.error(symmetric.error().message);
  SymmetricRegion* regions = *symmetric;
  // Every rank's inputs are drawn everywhere (one generator, in rank order), so that a
  // process checks the rows its ranks got against their origins' tokens; only this
  // process's ranks dispatch and combine.
  std::vector<uint32_t> mine;
  auto eps = std::make_unique<std::vector<std::unique_ptr<moe::ExpertParallel>>>(ep);
  for (uint32_t r = 0; r < ep; ++r) {
    if (!c.world.local(r)) continue;
    mine.push_back(r);
    auto created = moe::ExpertParallel::create(*groups[r], config, regions[r]);
    if (!created.ok()) return c.error(created.error().to_string());
    (*eps)[r] = std::move(created).value();
  }
  if (!c.meet(ranks, 0, "moe's regions")) return;
  // Expert popularity: Zipf with the spec's skew, drawn from the seed.
  std::vector<double> weight(config.experts);
  for (uint32_t e = 0; e < config.experts; ++e) weight[e] = 1.0 / std::pow(e + 1.0, spec.routing_skew);
  Rng rng(c.seed ^ 0x6d6f65);
  struct Inputs {
    std::vector<int32_t> topk;
    std::vector<uint16_t> hidden;
    std::vector<uint8_t> rows;  // what dispatch moves: the bf16 tokens, or their fp8 rows
    std::vector<float> weights;
    std::vector<uint16_t> combined;
  };
  for (uint32_t round = 0; round < spec.rounds; ++round) {
    auto inputs = std::make_unique<std::vector<Inputs>>(ep);
    for (uint32_t r = 0; r < ep; ++r) {
      Inputs& in = (*inputs)[r];
      for (uint32_t t = 0; t < tokens; ++t) {
        std::vector<double> w = weight;
        for (uint32_t s = 0; s < k; ++s) {  // k distinct experts
          const uint32_t e = weighted_draw(w, rng);
          w[e] = 0;
          in.topk.push_back(static_cast<int32_t>(e));
          in.weights.push_back(1.0f / static_cast<float>(k));
        }
        for (uint32_t i = 0; i < hidden; ++i) {
          in.hidden.push_back(bf16_of(static_cast<float>(static_cast<int>((r * 31 + t * 7 + i + round) % 64) - 32)));
        }
      }
      if (fp8) {
        in.rows.resize(uint64_t{tokens} * row_bytes);
        for (uint32_t t = 0; t < tokens; ++t) {
          moe::quantize_row_fp8(in.hidden.data() + uint64_t{t} * hidden, hidden, in.rows.data() + t * row_bytes);
        }
      } else {
        in.rows.resize(in.hidden.size() * 2);
        std::memcpy(in.rows.data(), in.hidden.data(), in.rows.size());
      }
      in.combined.assign(uint64_t{tokens} * hidden, 0);
    }
    // Dispatch.
    auto tasks = std::make_unique<std::vector<Task<VoidResult>>>();
    for (uint32_t r : mine) {
      tasks->push_back((*eps)[r]->dispatch(std::span<const int32_t>((*inputs)[r].topk),
                                           std::span<const float>((*inputs)[r].weights),
                                           std::span<const uint8_t>((*inputs)[r].rows)));
    }
    auto all_done = [&] { return std::all_of(tasks->begin(), tasks->end(), [](auto& t) { return t.done(); }); };
    uint64_t start = c.world.now_ns();
    for (auto& t : *tasks) t.start();
    if (!c.run(all_done)) return (void)tasks.release(), (void)inputs.release(), (void)eps.release();
    bool ok = true;
    for (auto& task : *tasks) {
      auto& result = task.result();
      if (!result.ok()) ok = false, c.error("dispatch " + std::to_string(round) + ": " + result.error().to_string());
    }
    if (!ok) break;
    // Every received row is its origin's token.
    for (uint32_t r : mine) {
      if (!ok) break;
      const moe::ExpertBatch& batch = (*eps)[r]->received();
      const auto rows = batch.all_tokens();
      const auto origins = batch.all_origins();
      for (uint32_t row = 0; row < batch.rows(); ++row) {
        const auto& o = origins[row];
        if (std::memcmp(rows.data() + row * row_bytes, (*inputs)[o.rank].rows.data() + o.token * row_bytes,
                        row_bytes) != 0) {
          ok = false;
          ++c.report.verify_failures;
          c.error("dispatch " + std::to_string(round) + ": rank " + std::to_string(r) + " row " +
                  std::to_string(row) + " differs from its origin's token");
          break;
        }
      }
      c.report.bytes += (*eps)[r]->last_dispatch().payload_bytes;
    }
    c.report.latencies_ns.push_back(c.world.now_ns() - start);
    ++c.report.operations;
    for (uint32_t r : mine) c.span(r, "dispatch " + std::to_string(round), start, c.world.now_ns());
    if (!ok) break;
    // Combine: the experts are the identity, so every token comes back as itself.
    std::vector<std::vector<uint16_t>> outputs(ep);
    tasks->clear();
    for (uint32_t r : mine) {
      const auto rows = (*eps)[r]->received().all_tokens();
      const uint64_t count = rows.size() / row_bytes;
      outputs[r].resize(count * hidden);
      for (uint64_t row = 0; row < count; ++row) {  // a rank may get no rows
        const uint8_t* in = rows.data() + row * row_bytes;
        uint16_t* out = outputs[r].data() + row * hidden;
        if (!fp8) {
          std::memcpy(out, in, row_bytes);
          continue;
        }
        for (uint32_t i = 0; i < hidden; ++i) out[i] = bf16_of(moe::fp8_row_value(in, hidden, i));
      }
      tasks->push_back((*eps)[r]->combine(outputs[r], (*inputs)[r].combined));
    }
    start = c.world.now_ns();
    for (auto& t : *tasks) t.start();
    if (!c.run(all_done)) {
      (void)tasks.release(), (void)inputs.release(), (void)eps.release();
      new std::vector<std::vector<uint16_t>>(std::move(outputs));
      return;
    }
    for (auto& task : *tasks) {
      auto& result = task.result();
      if (!result.ok()) ok = false, c.error("combine " + std::to_string(round) + ": " + result.error().to_string());
    }
    if (!ok) break;
    for (uint32_t r : mine) {
      if (!ok) break;
      const Inputs& in = (*inputs)[r];
      for (uint64_t i = 0; i < in.combined.size(); ++i) {
        if (std::fabs(float_of(in.combined[i]) - float_of(in.hidden[i])) > tolerance) {
          ok = false;
          ++c.report.verify_failures;
          c.error("combine " + std::to_string(round) + ": rank " + std::to_string(r) + " element " +
                  std::to_string(i) + " is " + std::to_string(float_of(in.combined[i])) + ", expected " +
                  std::to_string(float_of(in.hidden[i])));
          break;
        }
      }
      c.report.bytes += (*eps)[r]->last_combine().payload_bytes;
    }
    c.report.latencies_ns.push_back(c.world.now_ns() - start);
    ++c.report.operations;
    for (uint32_t r : mine) c.span(r, "combine " + std::to_string(round), start, c.world.now_ns());
    if (!ok) break;
  }
}


class MoeRunner final : public RunnerFor<MoeSpec> {
  WorkloadPlan plan_spec(const Scenario& s, const MoeSpec& spec) const override {
    // An all-to-all over many ranks, each with every NIC of its node, needs ep x (ep - 1)
    // x NICs endpoints per rank (64 x 63 x 8 for an EP-64 MoE on 8-NIC nodes: many GB):
    // such replays give each rank only its own GPU's NICs, as rail-aligned servers do.
    const bool rail_aligned = uint64_t{spec.ep} * s.cluster.nics_per_node() > kMaxAllToAllRails;
    const uint64_t per_rank = moe_dispatch_bytes_per_rank(spec, s.model) + moe_combine_bytes_per_rank(spec, s.model);
    return {spec.ep, per_rank * spec.ep * spec.rounds, rail_aligned};
  }
  std::string describe_spec(const ModelSpec& model, const MoeSpec& s) const override {
    return "ep " + std::to_string(s.ep) + ", " + format_grouped(s.tokens_per_rank) + " tokens per rank, top " +
           std::to_string(s.top_k) + ", routing skew " + format_real(s.routing_skew) + ", " +
           count_of(s.rounds, "round") + ", " + std::string(name_of(kDispatchDtypeNames, s.dispatch_dtype)) +
           " dispatch: at most " + format_bytes(moe_dispatch_bytes_per_rank(s, model)) + " dispatched and " +
           format_bytes(moe_combine_bytes_per_rank(s, model)) + " combined per rank per round";
  }
  void run_spec(RunContext& c, const MoeSpec& spec) const override {
    MoeSpec capped = spec;
    capped.rounds = c.capped(spec.rounds, (c.max_operations + 1) / 2, "rounds");  // a dispatch and a combine each
    run_moe(c, capped);
  }
};

[[maybe_unused]] const bool kRegistered = register_workload(std::make_unique<MoeRunner>());

}  // namespace
}  // namespace ferry::replay
