#include "tools/ferry/replay/replay.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>

#include "emu/rng.h"
#include "scenarios/workload_volume.h"
#include "tools/ferry/replay/progress.h"
#include "tools/ferry/replay/replay_fabric.h"
#include "tools/ferry/replay/world.h"
#include "transport/engine/task.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/kv/kv_receiver.h"
#include "transport/workloads/kv/kv_sender.h"
#include "transport/workloads/moe/expert_parallel.h"
#include "transport/workloads/pp/stage_receiver.h"
#include "transport/workloads/pp/stage_sender.h"
#include "transport/workloads/weights/broadcast.h"

namespace ferry::replay {
namespace {

using Clock = std::chrono::steady_clock;
using namespace scenarios;

// What a workload runner needs: the world, the bounds, and where its figures go.
struct Context {
  World& world;
  const Scenario& scenario;
  uint64_t seed;
  uint64_t horizon_ns;
  Clock::time_point wall_deadline;
  WorkloadReport& report;
  ReplayReport& replay;
  uint32_t workload;       // index in replay.workloads
  uint64_t max_operations;  // 0: no cap
  // Set when tasks were left pending: their objects are leaked on purpose (callbacks may
  // still reach them) and no later workload runs on these engines.
  bool stuck = false;

  bool run(const std::function<bool()>& done, uint64_t wake_at_ns = UINT64_MAX) {
    if (world.run_until(done, world.now_ns() + horizon_ns, wall_deadline, wake_at_ns)) return true;
    stuck = true;
    report.errors.push_back("did not finish within its bounds (virtual time " +
                            std::to_string(horizon_ns / 1'000'000'000) + " s or the wall-clock limit)");
    return false;
  }
  void error(const std::string& what) {
    if (report.errors.size() < 20) report.errors.push_back(what);
  }
  // One operation on one rank, for trace.json.
  void span(uint32_t rank, std::string name, uint64_t start_ns, uint64_t end_ns) {
    if (replay.spans.size() >= kMaxSpans) {
      ++replay.spans_dropped;
      return;
    }
    replay.spans.push_back(OperationSpan{rank, workload, std::move(name), start_ns, end_ns});
  }
};

std::vector<uint32_t> iota_ranks(uint32_t first, uint32_t count) {
  std::vector<uint32_t> ranks(count);
  for (uint32_t i = 0; i < count; ++i) ranks[i] = first + i;
  return ranks;
}

uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

// ---- tp_decode: all-reduces of the batch's hidden states over the tp ranks ----------

void run_tp_decode(Context& c, const TpDecodeSpec& spec) {
  const uint64_t bytes = tp_decode_allreduce_bytes(spec, c.scenario.model);
  const uint64_t total = spec.tokens * tp_decode_allreduces_per_token(c.scenario.model);
  const uint64_t count = std::max<uint64_t>(1, bytes / 4);  // fp32 elements
  const uint64_t ops = std::min({total, kMaxAllReduces, c.max_operations ? c.max_operations : total});
  if (ops < total) {
    c.report.note = "replayed " + std::to_string(ops) + " of " + std::to_string(total) + " all-reduces (cap)";
  }
  c.report.planned = ops;
  const std::vector<uint32_t> ranks = iota_ranks(0, spec.tp);
  std::vector<Group>& groups = c.world.groups(ranks);
  std::string err;
  const uint64_t scratch = std::max<uint64_t>(8ull << 20, 4 * count * 4 * spec.tp);
  SymmetricRegion* scratch_views = c.world.symmetric(ranks, scratch, err);
  if (!scratch_views) return c.error(err);
  auto comms = std::make_unique<std::vector<coll::Communicator>>();
  auto data = std::make_unique<std::vector<std::vector<float>>>(spec.tp, std::vector<float>(count));
  for (uint32_t i = 0; i < spec.tp; ++i) comms->emplace_back(groups[i], scratch_views[i]);
  for (uint64_t op = 0; op < ops; ++op) {
    for (uint32_t r = 0; r < spec.tp; ++r) {
      for (uint64_t i = 0; i < count; ++i) (*data)[r][i] = static_cast<float>((r + 1) * ((i + op) % 13));
    }
    auto tasks = std::make_unique<std::vector<Task<TransferResult>>>();
    for (uint32_t r = 0; r < spec.tp; ++r) {
      tasks->push_back(coll::all_reduce((*comms)[r], (*data)[r].data(), count, coll::DType::kFloat32,
                                        coll::ReduceOp::kSum));
    }
    const uint64_t start = c.world.now_ns();
    for (auto& t : *tasks) t.start();
    if (!c.run([&] { return std::all_of(tasks->begin(), tasks->end(), [](auto& t) { return t.done(); }); })) {
      (void)tasks.release(), (void)comms.release(), (void)data.release();
      return;
    }
    const uint64_t end = c.world.now_ns();
    bool ok = true;
    for (uint32_t r = 0; r < spec.tp; ++r) {
      const TransferResult& result = (*tasks)[r].result();
      if (!result.ok) {
        ok = false;
        c.error("all-reduce " + std::to_string(op) + ", rank " + std::to_string(r) + ": " + result.message);
      }
    }
    if (!ok) break;  // a broken communicator fails every later call
    const float sum_of_ranks = static_cast<float>(spec.tp * (spec.tp + 1) / 2);
    for (uint32_t r = 0; r < spec.tp; ++r) {
      for (uint64_t i = 0; i < count; ++i) {
        if ((*data)[r][i] != sum_of_ranks * static_cast<float>((i + op) % 13)) {
          ++c.report.verify_failures;
          c.error("all-reduce " + std::to_string(op) + ", rank " + std::to_string(r) + ": element " +
                  std::to_string(i) + " wrong");
          ok = false;
          break;
        }
      }
    }
    ++c.report.operations;
    c.report.latencies_ns.push_back(end - start);
    c.report.bytes += count * 4 * spec.tp;  // every rank contributes its buffer
    for (uint32_t r = 0; r < spec.tp; ++r) c.span(r, "all_reduce " + std::to_string(op), start, end);
  }
}

// ---- pd_disagg: KV cache from prefill instances to decode instances ------------------

uint16_t kv_value(uint64_t request, uint32_t layer, uint32_t part, uint64_t token, uint32_t head, uint32_t dim) {
  return static_cast<uint16_t>(mix(request * 0x100000001b3ull ^ (uint64_t{layer} << 40) ^ (uint64_t{part} << 39) ^
                                   (token << 20) ^ (uint64_t{head} << 10) ^ dim));
}

// Random draws come from emu's generator, written out in the tree, not from <random>,
// whose distributions differ between standard libraries: a seed must give the same
// replay with every toolchain (docs/architecture.md, Determinism).
using emu::Rng;

// A standard normal draw (Box-Muller).
double normal_draw(Rng& rng) {
  constexpr double kTwoPi = 6.283185307179586476925;
  const double u1 = 1.0 - rng.unit();  // (0, 1]: its log is finite
  const double u2 = rng.unit();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

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

// When each request arrives, in ns after the workload's start: all at once (rate 0), one
// every 1/rate, or exponential gaps of mean 1/rate.
std::vector<uint64_t> arrival_times(const PdDisaggSpec& spec, uint64_t seed) {
  std::vector<uint64_t> out(spec.requests, 0);
  if (spec.arrival_rate <= 0) return out;
  const double mean_gap_ns = 1e9 / spec.arrival_rate;
  Rng rng(seed ^ 0xa1a1a1a1a1a1a1a1ull);
  double t = 0;
  for (uint32_t i = 1; i < spec.requests; ++i) {
    if (spec.arrival == Arrival::kFixed) {
      t += mean_gap_ns;
    } else {
      t += -std::log1p(-rng.unit()) * mean_gap_ns;
    }
    out[i] = static_cast<uint64_t>(t);
  }
  return out;
}

std::vector<uint64_t> context_lengths(const PdDisaggSpec& spec, uint64_t seed) {
  std::vector<uint64_t> out;
  Rng rng(seed);
  for (uint32_t i = 0; i < spec.requests; ++i) {
    const ContextLengths& c = spec.context;
    uint64_t v = 0;
    if (c.kind == ContextLengths::Kind::kList) {
      v = c.list.empty() ? 1 : c.list[i % c.list.size()];
    } else if (c.kind == ContextLengths::Kind::kUniform) {
      v = c.min + rng.below(c.max - c.min + 1);
    } else {
      // Log-normal around the median.
      const double mu = std::log(static_cast<double>(std::max<uint64_t>(1, c.median)));
      const double drawn = std::exp(mu + c.sigma * normal_draw(rng));
      // Clamped as a double: a draw past 2^64 would not convert.
      v = static_cast<uint64_t>(std::clamp(drawn, static_cast<double>(c.min), static_cast<double>(c.max)));
    }
    out.push_back(std::max<uint64_t>(1, v));
  }
  return out;
}

void run_pd_disagg(Context& c, const PdDisaggSpec& spec) {
  const ModelSpec& m = c.scenario.model;
  const std::vector<uint64_t> contexts = context_lengths(spec, c.seed);
  const uint64_t largest = *std::max_element(contexts.begin(), contexts.end());
  const uint32_t blocks = static_cast<uint32_t>((largest + spec.block_size - 1) / spec.block_size);
  // MLA caches one latent per token: modelled as one KV "head" of kv_width / 2 elements.
  const bool mla = m.attention == Attention::kMla;
  PagedKvLayout prefill{.layers = m.layers, .block_tokens = spec.block_size,
                        .kv_heads = mla ? 1 : m.kv_heads,
                        .head_dim = mla ? static_cast<uint32_t>((m.kv_width() + 1) / 2) : m.head_dim,
                        .dtype_bytes = 2, .num_blocks = blocks, .tp = spec.prefill.tp};
  PagedKvLayout decode = prefill;
  decode.tp = spec.decode.tp;
  const uint32_t prefill_ranks = static_cast<uint32_t>(spec.prefill.ranks());
  const uint32_t decode_first = c.scenario.cluster.nodes_for(prefill_ranks) * c.scenario.cluster.gpus_per_node;
  c.report.planned = spec.requests;
  std::string err;
  // Pools and the sender/receiver objects, per instance pair used.
  struct Pair {
    std::vector<std::unique_ptr<KvSender>> senders;
    std::vector<std::unique_ptr<KvReceiver>> receivers;
  };
  auto pairs = std::make_unique<std::map<std::pair<uint32_t, uint32_t>, Pair>>();
  std::vector<uint8_t*> prefill_pools(prefill_ranks), decode_pools(spec.decode.ranks());
  for (uint32_t p = 0; p < prefill_ranks; ++p) {
    if (!(prefill_pools[p] = c.world.registered(p, prefill.pool_bytes(), err))) return c.error(err);
  }
  for (uint32_t d = 0; d < spec.decode.ranks(); ++d) {
    if (!(decode_pools[d] = c.world.registered(decode_first + d, decode.pool_bytes(), err))) return c.error(err);
  }
  auto pair_for = [&](uint32_t pi, uint32_t di) -> Pair* {
    auto found = pairs->find({pi, di});
    if (found != pairs->end()) return &found->second;
    Pair pair;
    std::vector<std::string> prefill_names;
    for (uint32_t p = 0; p < spec.prefill.tp; ++p) prefill_names.push_back(rank_name(pi * spec.prefill.tp + p));
    for (uint32_t p = 0; p < spec.prefill.tp; ++p) {
      const uint32_t prank = pi * spec.prefill.tp + p;
      std::vector<KvDecodeRank> targets;
      for (uint32_t d = 0; d < spec.decode.tp; ++d) {
        const uint32_t dlocal = di * spec.decode.tp + d;
        KvDecodeRank target{rank_name(decode_first + dlocal), {}, 0};
        if (!c.world.import(prank, decode_first + dlocal, decode_pools[dlocal], target.region, err)) return nullptr;
        targets.push_back(target);
      }
      auto sender = KvSender::create(c.world.engine(prank), {prefill, p, prefill_pools[prank], decode, targets});
      if (!sender.ok()) return err = sender.error().to_string(), nullptr;
      pair.senders.push_back(std::move(sender).value());
    }
    for (uint32_t d = 0; d < spec.decode.tp; ++d) {
      const uint32_t drank = decode_first + di * spec.decode.tp + d;
      auto receiver = KvReceiver::create(c.world.engine(drank), {prefill, decode, d, prefill_names});
      if (!receiver.ok()) return err = receiver.error().to_string(), nullptr;
      pair.receivers.push_back(std::move(receiver).value());
    }
    return &pairs->emplace(std::make_pair(pi, di), std::move(pair)).first->second;
  };
  const std::vector<uint64_t> arrivals = arrival_times(spec, c.seed);
  const uint64_t workload_start = c.world.now_ns();
  for (uint32_t i = 0; i < spec.requests; ++i) {
    const uint64_t id = i + 1;
    // Requests migrate one after another: this one waits for its arrival, if it is
    // still to come, and for the one before.
    const uint64_t arrival = workload_start + arrivals[i];
    if (c.world.now_ns() < arrival && !c.run([&] { return c.world.now_ns() >= arrival; }, arrival)) return;
    const uint32_t pi = i % spec.prefill.instances, di = i % spec.decode.instances;
    Pair* pair = pair_for(pi, di);
    if (!pair) return c.error(err);
    const uint32_t n = static_cast<uint32_t>((contexts[i] + spec.block_size - 1) / spec.block_size);
    KvRequest request{id, {}, {}};
    for (uint32_t b = 0; b < n; ++b) {
      request.prefill_blocks.push_back(b);
      request.decode_blocks.push_back(blocks - 1 - b);  // a different table on each side
    }
    // Fill the prefill side: every element names its request, layer, part, token, head, dim.
    for (uint32_t p = 0; p < spec.prefill.tp; ++p) {
      uint8_t* pool = prefill_pools[pi * spec.prefill.tp + p];
      const HeadRange heads = prefill.heads_of(p);
      for (uint32_t l = 0; l < prefill.layers; ++l)
        for (uint32_t part = 0; part < kKvParts; ++part)
          for (uint32_t b = 0; b < n; ++b)
            for (uint32_t t = 0; t < prefill.block_tokens; ++t)
              for (uint32_t h = 0; h < heads.count; ++h)
                for (uint32_t d = 0; d < prefill.head_dim; ++d) {
                  const uint16_t v = kv_value(id, l, part, uint64_t{b} * prefill.block_tokens + t, heads.first + h, d);
                  std::memcpy(pool + prefill.offset(l, static_cast<KvPart>(part), request.prefill_blocks[b], t, h, d),
                              &v, 2);
                }
    }
    bool began = true;
    for (auto& r : pair->receivers) {
      if (auto ok = r->begin(request); !ok.ok()) began = false, c.error(ok.error().to_string());
    }
    for (auto& s : pair->senders) {
      if (auto ok = s->begin(request); !ok.ok()) began = false, c.error(ok.error().to_string());
    }
    if (!began) break;
    auto senders = std::make_unique<std::vector<Task<KvSendReport>>>();
    auto receivers = std::make_unique<std::vector<Task<KvReceiveReport>>>();
    for (auto& s : pair->senders) senders->push_back(s->finished(id));
    for (auto& r : pair->receivers) receivers->push_back(r->finished(id));
    for (auto& t : *senders) t.start();
    for (auto& t : *receivers) t.start();
    const uint64_t start = c.world.now_ns();
    for (uint32_t l = 0; l < prefill.layers; ++l) {
      for (auto& s : pair->senders) (void)s->layer_ready(id, l);  // refused once stopped: finished() says why
    }
    auto all_done = [&] {
      return std::all_of(senders->begin(), senders->end(), [](auto& t) { return t.done(); }) &&
             std::all_of(receivers->begin(), receivers->end(), [](auto& t) { return t.done(); });
    };
    if (!c.run(all_done)) {
      (void)senders.release(), (void)receivers.release(), (void)pairs.release();
      return;
    }
    bool ok = true;
    uint64_t moved = 0, end = start;
    for (auto& t : *senders) {
      const KvSendReport& r = t.result();
      moved += r.bytes;
      if (!r.result.ok) ok = false, c.error("request " + std::to_string(id) + ": " + r.result.message);
    }
    for (auto& t : *receivers) {
      const KvReceiveReport& r = t.result();
      end = std::max(end, c.world.replay_ns(r.last_landed_ns));
      if (!r.result.ok) ok = false, c.error("request " + std::to_string(id) + ": " + r.result.message);
    }
    c.report.bytes += moved;
    if (!ok) continue;
    // Check every element on every decode rank.
    bool verified = true;
    for (uint32_t d = 0; d < spec.decode.tp && verified; ++d) {
      const uint8_t* pool = decode_pools[di * spec.decode.tp + d];
      const HeadRange heads = decode.heads_of(d);
      for (uint32_t l = 0; l < decode.layers && verified; ++l)
        for (uint32_t part = 0; part < kKvParts && verified; ++part)
          for (uint32_t b = 0; b < n && verified; ++b)
            for (uint32_t t = 0; t < decode.block_tokens && verified; ++t)
              for (uint32_t h = 0; h < heads.count && verified; ++h)
                for (uint32_t dim = 0; dim < decode.head_dim; ++dim) {
                  uint16_t have = 0;
                  std::memcpy(&have, pool + decode.offset(l, static_cast<KvPart>(part), request.decode_blocks[b], t, h, dim), 2);
                  if (have != kv_value(id, l, part, uint64_t{b} * decode.block_tokens + t, heads.first + h, dim)) {
                    verified = false;
                    break;
                  }
                }
    }
    if (!verified) {
      ++c.report.verify_failures;
      c.error("request " + std::to_string(id) + ": KV cache on the decode side differs from the prefill side");
      continue;
    }
    ++c.report.operations;
    const uint64_t kv_ns = std::max(end, c.world.now_ns()) - start;
    c.report.latencies_ns.push_back(kv_ns);
    c.report.requests.push_back(KvRequestTiming{id, contexts[i], moved, arrival, start, kv_ns});
    const std::string name = "kv request " + std::to_string(id);
    for (uint32_t p = 0; p < spec.prefill.tp; ++p) c.span(pi * spec.prefill.tp + p, name, start, start + kv_ns);
    for (uint32_t d = 0; d < spec.decode.tp; ++d) {
      c.span(decode_first + di * spec.decode.tp + d, name, start, start + kv_ns);
    }
  }
}

// ---- moe: dispatch and combine over the ep ranks -------------------------------------

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

void run_moe(Context& c, const MoeSpec& spec) {
  const ModelSpec& model = c.scenario.model;
  moe::MoeConfig config;
  config.experts = model.experts;
  config.top_k = spec.top_k;
  config.hidden = model.hidden_size;
  config.element_bytes = 2;
  config.max_tokens = static_cast<uint32_t>(spec.tokens_per_rank);
  config.mode = moe::MoeMode::kNormal;
  const uint32_t ep = spec.ep, tokens = config.max_tokens, k = config.top_k, hidden = config.hidden;
  c.report.planned = 2ull * spec.rounds;
  const std::vector<uint32_t> ranks = iota_ranks(0, ep);
  std::vector<Group>& groups = c.world.groups(ranks);
  auto region_bytes = moe::ExpertParallel::region_bytes(config, ep);
  if (!region_bytes.ok()) return c.error(region_bytes.error().to_string());
  std::string err;
  SymmetricRegion* regions = c.world.symmetric(ranks, *region_bytes, err);
  if (!regions) return c.error(err);
  auto eps = std::make_unique<std::vector<std::unique_ptr<moe::ExpertParallel>>>();
  for (uint32_t r = 0; r < ep; ++r) {
    auto created = moe::ExpertParallel::create(groups[r], config, regions[r]);
    if (!created.ok()) return c.error(created.error().to_string());
    eps->push_back(std::move(created).value());
  }
  // Expert popularity: Zipf with the spec's skew, drawn from the seed.
  std::vector<double> weight(config.experts);
  for (uint32_t e = 0; e < config.experts; ++e) weight[e] = 1.0 / std::pow(e + 1.0, spec.routing_skew);
  Rng rng(c.seed ^ 0x6d6f65);
  struct Inputs {
    std::vector<int32_t> topk;
    std::vector<uint16_t> hidden;
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
      in.combined.assign(uint64_t{tokens} * hidden, 0);
    }
    // Dispatch.
    auto tasks = std::make_unique<std::vector<Task<VoidResult>>>();
    for (uint32_t r = 0; r < ep; ++r) {
      tasks->push_back((*eps)[r]->dispatch(std::span<const int32_t>((*inputs)[r].topk),
                                           std::span<const uint16_t>((*inputs)[r].hidden)));
    }
    auto all_done = [&] { return std::all_of(tasks->begin(), tasks->end(), [](auto& t) { return t.done(); }); };
    uint64_t start = c.world.now_ns();
    for (auto& t : *tasks) t.start();
    if (!c.run(all_done)) return (void)tasks.release(), (void)inputs.release(), (void)eps.release();
    bool ok = true;
    for (uint32_t r = 0; r < ep; ++r) {
      auto& result = (*tasks)[r].result();
      if (!result.ok()) ok = false, c.error("dispatch " + std::to_string(round) + ": " + result.error().to_string());
    }
    if (!ok) break;
    // Every received row is its origin's token.
    for (uint32_t r = 0; r < ep && ok; ++r) {
      const moe::ExpertBatch& batch = (*eps)[r]->received();
      const auto rows = batch.all_tokens();
      const auto origins = batch.all_origins();
      for (uint32_t row = 0; row < batch.rows(); ++row) {
        const auto& o = origins[row];
        if (std::memcmp(rows.data() + uint64_t{row} * hidden * 2,
                        (*inputs)[o.rank].hidden.data() + uint64_t{o.token} * hidden, hidden * 2) != 0) {
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
    for (uint32_t r = 0; r < ep; ++r) c.span(r, "dispatch " + std::to_string(round), start, c.world.now_ns());
    if (!ok) break;
    // Combine: the experts are the identity, so every token comes back as itself.
    std::vector<std::vector<uint16_t>> outputs(ep);
    tasks->clear();
    for (uint32_t r = 0; r < ep; ++r) {
      const auto rows = (*eps)[r]->received().all_tokens();
      outputs[r].resize(rows.size() / 2);
      if (!rows.empty()) std::memcpy(outputs[r].data(), rows.data(), rows.size());  // a rank may get no rows
      tasks->push_back((*eps)[r]->combine(outputs[r], (*inputs)[r].weights, (*inputs)[r].combined));
    }
    start = c.world.now_ns();
    for (auto& t : *tasks) t.start();
    if (!c.run(all_done)) {
      (void)tasks.release(), (void)inputs.release(), (void)eps.release();
      new std::vector<std::vector<uint16_t>>(std::move(outputs));
      return;
    }
    for (uint32_t r = 0; r < ep; ++r) {
      auto& result = (*tasks)[r].result();
      if (!result.ok()) ok = false, c.error("combine " + std::to_string(round) + ": " + result.error().to_string());
    }
    if (!ok) break;
    for (uint32_t r = 0; r < ep && ok; ++r) {
      const Inputs& in = (*inputs)[r];
      for (uint64_t i = 0; i < in.combined.size(); ++i) {
        if (std::fabs(float_of(in.combined[i]) - float_of(in.hidden[i])) > 0.25f) {
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
    for (uint32_t r = 0; r < ep; ++r) c.span(r, "combine " + std::to_string(round), start, c.world.now_ns());
    if (!ok) break;
  }
}

// ---- pp: micro-batches through the stages, tp lanes side by side ---------------------

uint8_t pp_byte(uint64_t micro_batch, uint32_t lane, uint64_t i) {
  return static_cast<uint8_t>((i * 2654435761u >> 7) ^ (micro_batch * 101) ^ (lane * 37) ^ (i >> 12));
}

uint16_t g_pipeline_links = 0;  // link ids, distinct across pp workloads of a replay

void run_pp(Context& c, const PipelineSpec& spec) {
  const uint64_t lane_bytes = std::max<uint64_t>(1, pipeline_micro_batch_bytes(spec, c.scenario.model) / spec.tp);
  c.report.planned = spec.micro_batches;
  pp::StageLink link;
  link.id = static_cast<uint16_t>(g_pipeline_links++ % pp::StageLink::kMaxLinks);
  link.credits = 4;
  link.max_message_bytes = lane_bytes;
  if (auto v = link.validate(); !v.ok()) return c.error(v.error().to_string());
  std::string err;
  struct Lane {
    std::vector<std::unique_ptr<pp::StageSender>> senders;      // by boundary
    std::vector<std::unique_ptr<pp::StageReceiver>> receivers;  // by boundary
    std::vector<uint8_t*> send_buffers;                         // by stage (last unused)
  };
  auto lanes = std::make_unique<std::vector<Lane>>(spec.tp);
  for (uint32_t j = 0; j < spec.tp; ++j) {
    Lane& lane = (*lanes)[j];
    for (uint32_t s = 0; s < spec.stages; ++s) {
      uint8_t* buf = c.world.registered(s * spec.tp + j, lane_bytes, err);
      if (!buf) return c.error(err);
      lane.send_buffers.push_back(buf);
    }
    for (uint32_t s = 0; s + 1 < spec.stages; ++s) {
      const uint32_t from = s * spec.tp + j, to = (s + 1) * spec.tp + j;
      uint8_t* slots = c.world.registered(to, link.receive_area_bytes(), err);
      uint8_t* scratch = c.world.registered(from, pp::StageLink::kSenderScratchBytes, err);
      RemoteRegion remote;
      if (!slots || !scratch || !c.world.import(from, to, slots, remote, err)) return c.error(err);
      lane.senders.push_back(std::make_unique<pp::StageSender>(c.world.engine(from), rank_name(to), link, remote, 0, scratch));
      lane.receivers.push_back(std::make_unique<pp::StageReceiver>(c.world.engine(to), rank_name(from), link, slots));
    }
  }
  // Per micro-batch: when stage 0 started sending it, and when the last stage had it.
  auto started = std::make_shared<std::vector<uint64_t>>(spec.micro_batches, 0);
  auto arrived = std::make_shared<std::vector<uint64_t>>(spec.micro_batches, 0);
  auto failures = std::make_shared<std::vector<std::string>>();
  auto bad = std::make_shared<uint64_t>(0);
  // Per lane, stage and micro-batch: when the stage had it, when its send completed.
  auto held = std::make_shared<std::vector<std::pair<uint64_t, uint64_t>>>(
      uint64_t{spec.tp} * spec.stages * spec.micro_batches);
  World* world = &c.world;
  const uint32_t stages = spec.stages, micro_batches = spec.micro_batches;
  // One coroutine per rank of each lane.
  auto stage_task = [](World* world, Lane* lane, uint32_t lane_index, uint32_t stage, uint32_t stages,
                       uint32_t micro_batches, uint64_t bytes, std::shared_ptr<std::vector<uint64_t>> started,
                       std::shared_ptr<std::vector<uint64_t>> arrived, std::shared_ptr<std::vector<std::string>> failures,
                       std::shared_ptr<uint64_t> bad,
                       std::shared_ptr<std::vector<std::pair<uint64_t, uint64_t>>> held) -> Task<void> {
    for (uint64_t m = 0; m < micro_batches; ++m) {
      uint8_t* out = lane->send_buffers[stage];
      auto& times = (*held)[(uint64_t{lane_index} * stages + stage) * micro_batches + m];
      if (stage == 0) {
        for (uint64_t i = 0; i < bytes; ++i) out[i] = pp_byte(m, lane_index, i);
        if (lane_index == 0) (*started)[m] = world->now_ns();
        times.first = world->now_ns();
      } else {
        Result<pp::Message> got = co_await lane->receivers[stage - 1]->recv();
        times.first = world->now_ns();
        if (!got.ok()) {
          failures->push_back("stage " + std::to_string(stage) + " lane " + std::to_string(lane_index) + ": " +
                              got.error().to_string());
          co_return;
        }
        const auto& data = got->bytes;
        bool same = data.size() == bytes;
        for (uint64_t i = 0; same && i < bytes; ++i) same = data[i] == pp_byte(m, lane_index, i);
        if (!same) ++*bad;
        if (stage + 1 == stages) {
          (*arrived)[m] = std::max((*arrived)[m], world->now_ns());
          times.second = world->now_ns();
          lane->receivers[stage - 1]->release();
          continue;
        }
        std::memcpy(out, data.data(), std::min<uint64_t>(bytes, data.size()));
        lane->receivers[stage - 1]->release();
      }
      TransferResult sent = co_await lane->senders[stage]->send(out, bytes);
      times.second = world->now_ns();
      if (!sent.ok) {
        failures->push_back("stage " + std::to_string(stage) + " lane " + std::to_string(lane_index) + ": " +
                            sent.message);
        co_return;
      }
    }
  };
  auto tasks = std::make_unique<std::vector<Task<void>>>();
  for (uint32_t j = 0; j < spec.tp; ++j) {
    for (uint32_t s = 0; s < stages; ++s) {
      tasks->push_back(stage_task(world, &(*lanes)[j], j, s, stages, micro_batches, lane_bytes, started, arrived,
                                  failures, bad, held));
    }
  }
  const uint64_t start = c.world.now_ns();
  for (auto& t : *tasks) t.start();
  if (!c.run([&] { return std::all_of(tasks->begin(), tasks->end(), [](auto& t) { return t.done(); }); })) {
    (void)tasks.release(), (void)lanes.release();
    return;
  }
  (void)start;
  for (const std::string& f : *failures) c.error(f);
  c.report.verify_failures += *bad;
  if (*bad) c.error(std::to_string(*bad) + " micro-batch lanes arrived with wrong bytes");
  for (uint32_t j = 0; j < spec.tp; ++j) {
    for (uint32_t s = 0; s < stages; ++s) {
      for (uint32_t m = 0; m < micro_batches; ++m) {
        const auto& [from, to] = (*held)[(uint64_t{j} * stages + s) * micro_batches + m];
        if (to >= from && to > 0) c.span(s * spec.tp + j, "micro-batch " + std::to_string(m), from, to);
      }
    }
  }
  for (uint32_t m = 0; m < micro_batches; ++m) {
    if ((*arrived)[m] == 0) continue;
    ++c.report.operations;
    c.report.latencies_ns.push_back((*arrived)[m] - (*started)[m]);
    c.report.bytes += lane_bytes * spec.tp * (stages - 1);
  }
}

// ---- weight_load: one root's bytes down a chain or tree ------------------------------

void run_weight_load(Context& c, const WeightLoadSpec& spec) {
  const ClusterSpec& cluster = c.scenario.cluster;
  std::vector<uint32_t> ranks;
  for (uint32_t i = 0; i < spec.ranks; ++i) {
    ranks.push_back(spec.placement == WeightPlacement::kPerNode ? i * cluster.gpus_per_node : i);
  }
  c.report.planned = 1;
  std::string err;
  SymmetricRegion* regions = c.world.symmetric(ranks, spec.bytes + weights::kChecksumBytes, err);
  if (!regions) return c.error(err);
  for (uint64_t i = 0; i < spec.bytes; ++i) regions[0].local[i] = static_cast<uint8_t>(mix(i >> 3) >> ((i & 7) * 8));
  std::vector<Group>& groups = c.world.groups(ranks);
  weights::BroadcastOptions options;
  options.fanout = spec.fanout;
  options.chunk_bytes = spec.chunk_bytes;
  auto tasks = std::make_unique<std::vector<Task<TransferResult>>>();
  for (uint32_t i = 0; i < ranks.size(); ++i) {
    tasks->push_back(weights::broadcast(groups[i], 0, regions[i], spec.bytes, options));
  }
  const uint64_t start = c.world.now_ns();
  std::vector<uint64_t> finished(ranks.size(), 0);  // when each rank's part ended
  auto all_done = [&] {
    bool all = true;
    for (size_t i = 0; i < tasks->size(); ++i) {
      if (!(*tasks)[i].done()) all = false;
      else if (finished[i] == 0) finished[i] = c.world.now_ns();
    }
    return all;
  };
  for (auto& t : *tasks) t.start();
  if (!c.run(all_done)) {
    (void)tasks.release();
    return;
  }
  for (uint32_t i = 0; i < ranks.size(); ++i) c.span(ranks[i], "broadcast", start, std::max(start, finished[i]));
  bool ok = true;
  for (uint32_t i = 0; i < ranks.size(); ++i) {
    const TransferResult& r = (*tasks)[i].result();
    if (!r.ok) ok = false, c.error(rank_name(ranks[i]) + ": " + r.message);
  }
  for (uint32_t i = 1; i < ranks.size(); ++i) {
    if (std::memcmp(regions[i].local, regions[0].local, spec.bytes) != 0) {
      ++c.report.verify_failures;
      ok = false;
      c.error(rank_name(ranks[i]) + ": weights differ from the root's");
    }
  }
  if (!ok) return;
  ++c.report.operations;
  c.report.latencies_ns.push_back(c.world.now_ns() - start);
  c.report.bytes += spec.bytes * (ranks.size() - 1);
}

// Ranks a workload occupies, to size the world.
uint32_t ranks_of(const Scenario& s, const WorkloadSpec& w) {
  return std::visit(
      [&](const auto& p) -> uint32_t {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, TpDecodeSpec>) return p.tp;
        if constexpr (std::is_same_v<T, PdDisaggSpec>) {
          return s.cluster.nodes_for(p.prefill.ranks()) * s.cluster.gpus_per_node + static_cast<uint32_t>(p.decode.ranks());
        }
        if constexpr (std::is_same_v<T, MoeSpec>) return p.ep;
        if constexpr (std::is_same_v<T, PipelineSpec>) return static_cast<uint32_t>(p.ranks());
        if constexpr (std::is_same_v<T, WeightLoadSpec>) {
          return p.placement == WeightPlacement::kPerNode ? (p.ranks - 1) * s.cluster.gpus_per_node + 1 : p.ranks;
        }
        return 0;
      },
      w.params);
}

std::string kind_name(WorkloadKind kind) {
  for (const auto& n : kWorkloadNames) {
    if (n.value == kind) return std::string(n.name);
  }
  return "?";
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\', out += ch;
    else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else out += ch;
  }
  return out + "\"";
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

uint64_t WorkloadReport::percentile_ns(double p) const {
  if (latencies_ns.empty()) return 0;
  std::vector<uint64_t> sorted = latencies_ns;
  std::sort(sorted.begin(), sorted.end());
  const size_t index = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::clamp<size_t>(index, 1, sorted.size()) - 1];
}

double WorkloadReport::throughput_gbps() const {
  return simulated_ns == 0 ? 0 : static_cast<double>(bytes) * 8 / static_cast<double>(simulated_ns);
}

bool ReplayReport::ok() const {
  if (!errors.empty()) return false;
  return std::all_of(workloads.begin(), workloads.end(), [](const WorkloadReport& w) { return w.completed; });
}

ReplayReport replay(const Scenario& scenario, ProviderKind provider, const ReplayOptions& options) {
  ReplayReport report;
  report.scenario = scenario.name;
  const Clock::time_point wall_start = Clock::now();
  const Clock::time_point wall_deadline =
      wall_start + std::chrono::milliseconds(static_cast<int64_t>(options.wall_limit_s * 1000));
  uint32_t ranks = 1;
  for (const WorkloadSpec& w : scenario.workloads) ranks = std::max(ranks, ranks_of(scenario, w));
  report.ranks = ranks;
  report.gpus_per_node = scenario.cluster.gpus_per_node;

  EngineConfig engine;
  std::string error;
  std::unique_ptr<ReplayFabric> fabric;
  switch (provider) {
    case ProviderKind::kEmu: {
      const auto* emu = std::get_if<EmuFabric>(&scenario.fabric.params);
      report.seed = options.seed.value_or(emu ? emu->seed : EmuFabric{}.seed);
      fabric = make_emu_fabric(scenario, report.seed, ranks, report.notes, error);
      // Failures surface within milliseconds of virtual time rather than seconds.
      engine.endpoint.retry_count = 3;
      engine.endpoint.retry_timeout_ns = 200'000;
      engine.endpoint.rnr_timer_ns = 10'000;
      break;
    }
    case ProviderKind::kSim: {
      const auto* sim = std::get_if<SimFabric>(&scenario.fabric.params);
      report.seed = options.seed.value_or(sim ? sim->seed : SimFabric{}.seed);
      fabric = make_sim_fabric(scenario, report.seed, ranks, report.notes, error);
      // Packet-level queues and PFC pauses delay progress by more than emu's timing does:
      // retry over a millisecond, failures still surface within milliseconds.
      engine.endpoint.retry_count = 7;
      engine.endpoint.retry_timeout_ns = 1'000'000;
      engine.endpoint.rnr_timer_ns = 10'000;
      // A sim endpoint holds its whole send queue: all-to-alls over many ranks keep it
      // short.
      engine.max_send_wr = ranks <= 16 ? 512 : 128;
      break;
    }
    case ProviderKind::kVerbs:
      fabric = make_verbs_fabric(scenario, ranks, report.notes, error);
      break;
  }
  engine.transfer_timeout_ns = 1'000'000'000;
  // No workload sends control messages (notifications carry no payload): small receive
  // buffers keep the memory of all-to-alls over many ranks and rails (64 x 63 x 8 peer
  // rails for an EP-64 MoE) to megabytes.
  engine.control_bytes = 256;
  report.provider = fabric ? fabric->provider_name() : (provider == ProviderKind::kEmu ? "emu"
                                                        : provider == ProviderKind::kSim ? "sim" : "verbs");
  if (!fabric) {
    report.virtual_time = provider != ProviderKind::kVerbs;
    report.errors.push_back(error);
    report.wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
    return report;
  }
  report.mode = fabric->mode();
  report.virtual_time = fabric->virtual_time();

  // An all-to-all over many ranks, each with every NIC of its node, needs ep x (ep - 1) x
  // NICs endpoints per rank pair set (64 x 63 x 8 for an EP-64 MoE on 8-NIC nodes: many
  // GB): such replays give each rank only its own GPU's NICs, as rail-aligned servers do.
  bool rail_aligned = false;
  for (const WorkloadSpec& w : scenario.workloads) {
    if (const auto* moe = std::get_if<MoeSpec>(&w.params)) {
      rail_aligned |= uint64_t{moe->ep} * scenario.cluster.nics_per_node() > kMaxAllToAllRails;
    }
  }
  if (rail_aligned) {
    report.notes.push_back("rail-aligned: each rank uses only its own GPU's NICs (an all-to-all over " +
                           std::string("more than ") + std::to_string(kMaxAllToAllRails) +
                           " ranks x NICs per node)");
  }
  auto world = std::make_unique<World>(std::move(fabric), engine, ranks, scenario.cluster.gpus_per_node, rail_aligned);
  if (!world->opened(error)) {
    report.errors.push_back("opening the engines: " + error);
    return report;
  }
  world->fabric().schedule_faults(scenario.faults, scenario.cluster, ranks, report.notes);

  ProgressDisplay progress(options.progress, scenario.workloads.size());
  bool stuck = false;
  for (size_t i = 0; i < scenario.workloads.size(); ++i) {
    const WorkloadSpec& w = scenario.workloads[i];
    WorkloadReport& wr = report.workloads.emplace_back();
    wr.name = w.name;
    wr.kind = kind_name(w.kind());
    if (stuck) {
      wr.errors.push_back("not run: an earlier workload left transfers pending");
      continue;
    }
    progress.started(i, wr.name, wr.kind);
    Context c{*world, scenario, report.seed, options.workload_horizon_ns, wall_deadline, wr, report,
              static_cast<uint32_t>(i), options.max_operations};
    // --max-ops: fewer requests, rounds or micro-batches than the scenario asks for.
    const uint64_t cap = options.max_operations;
    auto capped = [&](auto count, uint64_t limit, const char* what) {
      using Count = decltype(count);
      if (cap == 0 || count <= limit) return count;
      wr.note = "replayed " + std::to_string(limit) + " of " + std::to_string(count) + " " + what + " (--max-ops)";
      return static_cast<Count>(limit);
    };
    const uint64_t start_ns = world->now_ns();
    wr.start_ns = start_ns;
    World* w_ptr = world.get();
    world->on_tick([&progress, &wr, w_ptr, start_ns] {
      progress.update(wr.operations, wr.planned, w_ptr->now_ns() - start_ns);
    });
    const Clock::time_point start_wall = Clock::now();
    try {
      std::visit(
          [&](const auto& p) {
            using T = std::decay_t<decltype(p)>;
            T q = p;
            if constexpr (std::is_same_v<T, PdDisaggSpec>) q.requests = capped(q.requests, cap, "requests");
            if constexpr (std::is_same_v<T, MoeSpec>) q.rounds = capped(q.rounds, (cap + 1) / 2, "rounds");
            if constexpr (std::is_same_v<T, PipelineSpec>) {
              q.micro_batches = capped(q.micro_batches, cap, "micro-batches");
            }
            if constexpr (std::is_same_v<T, TpDecodeSpec>) run_tp_decode(c, q);
            if constexpr (std::is_same_v<T, PdDisaggSpec>) run_pd_disagg(c, q);
            if constexpr (std::is_same_v<T, MoeSpec>) run_moe(c, q);
            if constexpr (std::is_same_v<T, PipelineSpec>) run_pp(c, q);
            if constexpr (std::is_same_v<T, WeightLoadSpec>) run_weight_load(c, q);
          },
          w.params);
    } catch (const std::exception& e) {
      wr.errors.push_back(std::string("exception: ") + e.what());
    }
    world->on_tick(nullptr);
    wr.simulated_ns = world->now_ns() - start_ns;
    wr.wall_s = std::chrono::duration<double>(Clock::now() - start_wall).count();
    wr.completed = wr.errors.empty() && wr.verify_failures == 0 && wr.operations == wr.planned;
    if (!wr.completed && wr.errors.empty()) {
      wr.errors.push_back("completed " + std::to_string(wr.operations) + " of " + std::to_string(wr.planned) +
                          " operations");
    }
    stuck |= c.stuck;
    progress.finished(wr.completed, wr.operations, wr.simulated_ns, wr.wall_s);
  }
  world->finish_timelines();
  report.faults_applied = world->fabric().faults_applied();
  report.trace_hash = world->fabric().trace_hash();
  report.simulated_ns = world->now_ns();
  report.interval_ns = world->nics().interval_ns();
  report.nics = world->nics().timelines(report.simulated_ns);
  report.wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
  // Pending transfers may still call back into the workloads' leaked state: keep the
  // engines alive rather than tear them down under it.
  if (stuck) (void)world.release();
  return report;
}

std::string format_kv_requests(const WorkloadReport& w) {
  if (w.requests.empty()) return "";
  std::ostringstream out;
  char line[256];
  if (w.requests.size() <= kKvRequestsListed) {
    for (const KvRequestTiming& t : w.requests) {
      std::snprintf(line, sizeof line,
                    "  request %llu: %llu tokens, %llu B of KV cache, KV transfer %.1f us of TTFT "
                    "(after %.1f us waiting for the one before)\n",
                    static_cast<unsigned long long>(t.request), static_cast<unsigned long long>(t.context_tokens),
                    static_cast<unsigned long long>(t.bytes), t.kv_ns / 1e3, (t.start_ns - t.arrival_ns) / 1e3);
      out << line;
    }
    return out.str();
  }
  WorkloadReport kv;
  for (const KvRequestTiming& t : w.requests) kv.latencies_ns.push_back(t.kv_ns);
  std::snprintf(line, sizeof line,
                "  KV transfer's share of TTFT over %zu requests: p50 %.1f us, p99 %.1f us, max %.1f us "
                "(every request in report.json)\n",
                w.requests.size(), kv.percentile_ns(50) / 1e3, kv.percentile_ns(99) / 1e3, kv.percentile_ns(100) / 1e3);
  return line;
}

std::string format_table(const ReplayReport& r) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-12s %-11s %6s %12s %10s %10s %10s %10s %12s %9s  %s\n", "workload", "kind", "ops",
                "bytes", "p50 us", "p99 us", "max us", "Gb/s", "sim ms", "wall s", "status");
  out << line;
  for (const WorkloadReport& w : r.workloads) {
    std::snprintf(line, sizeof line, "%-12s %-11s %6llu %12llu %10.1f %10.1f %10.1f %10.2f %12.3f %9.2f  %s\n",
                  w.name.c_str(), w.kind.c_str(), static_cast<unsigned long long>(w.operations),
                  static_cast<unsigned long long>(w.bytes), w.percentile_ns(50) / 1e3, w.percentile_ns(99) / 1e3,
                  w.percentile_ns(100) / 1e3, w.throughput_gbps(), w.simulated_ns / 1e6, w.wall_s,
                  w.completed ? "ok" : ("FAILED (" + std::to_string(w.errors.size()) + " errors)").c_str());
    out << line;
    if (!w.note.empty()) out << "  note: " << w.note << "\n";
    out << format_kv_requests(w);
  }
  return out.str();
}

std::string to_json(const ReplayReport& r, bool with_wall_time) {
  std::ostringstream out;
  out << "{\n";
  out << "  \"scenario\": " << json_string(r.scenario) << ",\n";
  out << "  \"provider\": " << json_string(r.provider) << ",\n";
  out << "  \"mode\": " << json_string(r.mode) << ",\n";
  out << "  \"seed\": " << r.seed << ",\n";
  out << "  \"ranks\": " << r.ranks << ",\n";
  out << "  \"ok\": " << (r.ok() ? "true" : "false") << ",\n";
  out << "  \"faults_applied\": " << r.faults_applied << ",\n";
  out << "  \"trace_hash\": \"" << std::hex << r.trace_hash << std::dec << "\",\n";
  out << "  \"simulated_ns\": " << r.simulated_ns << ",\n";
  if (with_wall_time) out << "  \"wall_s\": " << fixed(r.wall_s, 3) << ",\n";
  out << "  \"virtual_time\": " << (r.virtual_time ? "true" : "false") << ",\n";
  out << "  \"gpus_per_node\": " << r.gpus_per_node << ",\n";
  out << "  \"notes\": [";
  for (size_t i = 0; i < r.notes.size(); ++i) out << (i ? ", " : "") << json_string(r.notes[i]);
  out << "],\n";
  out << "  \"interval_ns\": " << r.interval_ns << ",\n";
  // Bytes each NIC sent per interval: one line per NIC.
  out << "  \"nics\": [";
  for (size_t i = 0; i < r.nics.size(); ++i) {
    out << (i ? ",\n    " : "\n    ") << "{\"name\": " << json_string(r.nics[i].name) << ", \"bytes\": [";
    for (size_t k = 0; k < r.nics[i].bytes.size(); ++k) out << (k ? "," : "") << r.nics[i].bytes[k];
    out << "]}";
  }
  out << (r.nics.empty() ? "],\n" : "\n  ],\n");
  out << "  \"errors\": [";
  for (size_t i = 0; i < r.errors.size(); ++i) out << (i ? ", " : "") << json_string(r.errors[i]);
  out << "],\n  \"workloads\": [\n";
  for (size_t i = 0; i < r.workloads.size(); ++i) {
    const WorkloadReport& w = r.workloads[i];
    out << "    {\n";
    out << "      \"name\": " << json_string(w.name) << ",\n";
    out << "      \"kind\": " << json_string(w.kind) << ",\n";
    out << "      \"completed\": " << (w.completed ? "true" : "false") << ",\n";
    out << "      \"operations\": " << w.operations << ",\n";
    out << "      \"planned\": " << w.planned << ",\n";
    out << "      \"bytes\": " << w.bytes << ",\n";
    out << "      \"latency_p50_ns\": " << w.percentile_ns(50) << ",\n";
    out << "      \"latency_p99_ns\": " << w.percentile_ns(99) << ",\n";
    out << "      \"latency_max_ns\": " << w.percentile_ns(100) << ",\n";
    out << "      \"throughput_gbps\": " << fixed(w.throughput_gbps(), 3) << ",\n";
    out << "      \"simulated_ns\": " << w.simulated_ns << ",\n";
    if (with_wall_time) out << "      \"wall_s\": " << fixed(w.wall_s, 3) << ",\n";
    out << "      \"verify_failures\": " << w.verify_failures << ",\n";
    if (!w.note.empty()) out << "      \"note\": " << json_string(w.note) << ",\n";
    out << "      \"start_ns\": " << w.start_ns << ",\n";
    if (w.kind == "pd_disagg") {
      // One line per request: compact, and still every request.
      out << "      \"requests\": [";
      for (size_t q = 0; q < w.requests.size(); ++q) {
        const KvRequestTiming& t = w.requests[q];
        out << (q ? ",\n        " : "\n        ") << "{\"request\": " << t.request
            << ", \"context_tokens\": " << t.context_tokens << ", \"bytes\": " << t.bytes
            << ", \"arrival_ns\": " << t.arrival_ns << ", \"start_ns\": " << t.start_ns
            << ", \"kv_ns\": " << t.kv_ns << "}";
      }
      out << (w.requests.empty() ? "],\n" : "\n      ],\n");
    }
    out << "      \"errors\": [";
    for (size_t e = 0; e < w.errors.size(); ++e) out << (e ? ", " : "") << json_string(w.errors[e]);
    out << "]\n    }" << (i + 1 < r.workloads.size() ? "," : "") << "\n";
  }
  out << "  ]\n}\n";
  return out.str();
}

}  // namespace ferry::replay
