// pd_disagg: each request's KV cache migrates from a prefill instance to a decode
// instance, layer by layer; the replay fills every element with a value naming its place
// and checks it on every decode rank. Requests arrive by the spec's arrival process and
// migrate one after another.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>

#include "transport/random.h"
#include "scenarios/units.h"
#include "scenarios/workload_volume.h"
#include "tools/ferry/replay/workload_runner.h"
#include "transport/engine/task.h"
#include "transport/workloads/kv/kv_receiver.h"
#include "transport/workloads/kv/kv_sender.h"

namespace ferry::replay {
namespace {

using namespace scenarios;

uint16_t kv_value(uint64_t request, uint32_t layer, uint32_t part, uint64_t token, uint32_t head, uint32_t dim) {
  return static_cast<uint16_t>(mix(request * 0x100000001b3ull ^ (uint64_t{layer} << 40) ^ (uint64_t{part} << 39) ^
                                   (token << 20) ^ (uint64_t{head} << 10) ^ dim));
}

// Random draws come from emu's generator, written out in the tree, not from <random>,
// whose distributions differ between standard libraries: a seed must give the same
// replay with every toolchain (docs/architecture.md, Determinism).
using ferry::Rng;

// A standard normal draw (Box-Muller).
double normal_draw(Rng& rng) {
  constexpr double kTwoPi = 6.283185307179586476925;
  const double u1 = 1.0 - rng.unit();  // (0, 1]: its log is finite
  const double u2 = rng.unit();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
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

void run_pd_disagg(RunContext& c, const PdDisaggSpec& spec) {
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
  std::string err;
  // Pools and the sender/receiver objects, per instance pair used.
  struct Pair {
    std::vector<std::unique_ptr<KvSender>> senders;
    std::vector<std::unique_ptr<KvReceiver>> receivers;
  };
  // The ranks of the instance pair a request migrates between.
  auto pair_ranks = [&](uint32_t pi, uint32_t di) {
    std::vector<uint32_t> ranks = iota_ranks(pi * spec.prefill.tp, spec.prefill.tp);
    for (uint32_t d = 0; d < spec.decode.tp; ++d) ranks.push_back(decode_first + di * spec.decode.tp + d);
    return ranks;
  };
  // This process takes part in the requests whose pair has a rank of its.
  c.report.planned = 0;
  for (uint32_t i = 0; i < spec.requests; ++i) {
    c.report.planned += c.world.any_local(pair_ranks(i % spec.prefill.instances, i % spec.decode.instances));
  }
  if (c.report.planned == 0) {
    c.report.note = "no rank of this node takes part";
    return;
  }
  auto pairs = std::make_unique<std::map<std::pair<uint32_t, uint32_t>, Pair>>();
  std::vector<Buffer> prefill_pools(prefill_ranks), decode_pools(spec.decode.ranks());
  for (uint32_t p = 0; p < prefill_ranks; ++p) {
    Result<Buffer> pool = c.world.registered(p, prefill.pool_bytes());
    if (!pool.ok()) return c.error(pool.error().message);
    prefill_pools[p] = *pool;
  }
  for (uint32_t d = 0; d < spec.decode.ranks(); ++d) {
    Result<Buffer> pool = c.world.registered(decode_first + d, decode.pool_bytes());
    if (!pool.ok()) return c.error(pool.error().message);
    decode_pools[d] = *pool;
  }
  auto pair_for = [&](uint32_t pi, uint32_t di) -> Pair* {
    auto found = pairs->find({pi, di});
    if (found != pairs->end()) return &found->second;
    Pair pair;
    std::vector<std::string> prefill_names;
    for (uint32_t p = 0; p < spec.prefill.tp; ++p) prefill_names.push_back(rank_name(pi * spec.prefill.tp + p));
    // Senders on this process's prefill ranks, receivers on its decode ranks.
    for (uint32_t p = 0; p < spec.prefill.tp; ++p) {
      const uint32_t prank = pi * spec.prefill.tp + p;
      if (!c.world.local(prank)) continue;
      std::vector<KvDecodeRank> targets;
      for (uint32_t d = 0; d < spec.decode.tp; ++d) {
        const uint32_t dlocal = di * spec.decode.tp + d;
        Result<RemoteRegion> region = c.world.import(prank, decode_pools[dlocal]);
        if (!region.ok()) return err = region.error().message, nullptr;
        targets.push_back(KvDecodeRank{rank_name(decode_first + dlocal), *region, 0});
      }
      auto sender = KvSender::create(c.world.engine(prank), {prefill, p, prefill_pools[prank].data, decode, targets});
      if (!sender.ok()) return err = sender.error().to_string(), nullptr;
      pair.senders.push_back(std::move(sender).value());
    }
    for (uint32_t d = 0; d < spec.decode.tp; ++d) {
      const uint32_t drank = decode_first + di * spec.decode.tp + d;
      if (!c.world.local(drank)) continue;
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
    const std::vector<uint32_t> ranks = pair_ranks(pi, di);
    if (!c.world.any_local(ranks)) continue;
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
      uint8_t* pool = prefill_pools[pi * spec.prefill.tp + p].data;
      if (pool == nullptr) continue;  // another process's rank
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
    // Every process of the pair has filled its side: the decode side's deadlines start
    // only now.
    if (!c.meet(ranks, 2 * id, "request " + std::to_string(id) + "'s prefill side filled")) break;
    bool began = true;
    for (auto& r : pair->receivers) {
      if (auto ok = r->begin(request); !ok.ok()) began = false, c.error(ok.error().to_string());
    }
    // The decode side begins before the prefill side sends (docs/kv-migration.md).
    if (!began || !c.meet(ranks, 2 * id + 1, "request " + std::to_string(id) + "'s decode side beginning")) break;
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
      if (!r.result.ok()) ok = false, c.error("request " + std::to_string(id) + ": " + r.result.error().message);
    }
    for (auto& t : *receivers) {
      const KvReceiveReport& r = t.result();
      end = std::max(end, c.world.replay_ns(r.last_landed_ns));
      if (!r.result.ok()) ok = false, c.error("request " + std::to_string(id) + ": " + r.result.error().message);
    }
    c.report.bytes += moved;
    if (!ok) continue;
    // Check every element on every decode rank.
    bool verified = true;
    for (uint32_t d = 0; d < spec.decode.tp && verified; ++d) {
      const uint8_t* pool = decode_pools[di * spec.decode.tp + d].data;
      if (pool == nullptr) continue;  // another process's rank
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
    c.report.requests.push_back(KvRequestTiming{id, contexts[i], moved, arrival, start, kv_ns, n, spec.block_size});
    const std::string name = "kv request " + std::to_string(id);
    for (uint32_t r : ranks) {
      if (c.world.local(r)) c.span(r, name, start, start + kv_ns);
    }
  }
}

std::string describe_contexts(const ContextLengths& context) {
  switch (context.kind) {
    case ContextLengths::Kind::kList: {
      const auto [low, high] = std::minmax_element(context.list.begin(), context.list.end());
      return *low == *high ? "of " + count_of(*high, "token")
                           : "of " + format_grouped(*low) + " to " + count_of(*high, "token") + ", taking " +
                                 std::to_string(context.list.size()) + " lengths in turn";
    }
    case ContextLengths::Kind::kUniform:
      return "of " + format_grouped(context.min) + " to " + count_of(context.max, "token") + ", uniform";
    case ContextLengths::Kind::kLognormal:
      return "of median " + count_of(context.median, "token") + ", lognormal with sigma " +
             format_real(context.sigma) + " within " + format_grouped(context.min) + " to " +
             format_grouped(context.max);
  }
  return "";
}

class PdDisaggRunner final : public RunnerFor<PdDisaggSpec> {
  bool lists_requests() const override { return true; }
  WorkloadPlan plan_spec(const Scenario& s, const PdDisaggSpec& spec) const override {
    // The decode pool starts on the first node after the prefill pool's.
    const uint32_t ranks = s.cluster.nodes_for(spec.prefill.ranks()) * s.cluster.gpus_per_node +
                           static_cast<uint32_t>(spec.decode.ranks());
    // Every request at the largest context.
    return {ranks, pd_request_kv_bytes(spec.context.largest(), s.model) * spec.requests, false};
  }
  std::string describe_spec(const ModelSpec& model, const PdDisaggSpec& s) const override {
    const std::string arrival = s.arrival_rate == 0 ? "arriving all at once"
                                                    : "arriving " + format_real(s.arrival_rate) + " per second (" +
                                                          std::string(name_of(kArrivalNames, s.arrival)) + ")";
    return count_of(s.requests, "request") + " " + describe_contexts(s.context) + ", " + arrival + ", prefill " +
           std::to_string(s.prefill.instances) + " x tp " + std::to_string(s.prefill.tp) + " to decode " +
           std::to_string(s.decode.instances) + " x tp " + std::to_string(s.decode.tp) + " in blocks of " +
           count_of(s.block_size, "token") + ": up to " + format_bytes(pd_request_kv_bytes(s.context.largest(), model)) +
           " of KV cache per request";
  }
  void run_spec(RunContext& c, const PdDisaggSpec& spec) const override {
    PdDisaggSpec capped = spec;
    capped.requests = c.capped(spec.requests, c.max_operations, "requests");
    run_pd_disagg(c, capped);
  }
};

[[maybe_unused]] const bool kRegistered = register_workload(std::make_unique<PdDisaggRunner>());

}  // namespace
}  // namespace ferry::replay
