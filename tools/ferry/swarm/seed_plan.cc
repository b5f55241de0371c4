#include "tools/ferry/swarm/seed_plan.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "transport/random.h"
#include "transport/workloads/group.h"

namespace ferry::swarm {
namespace {

constexpr uint64_t kWindowNs = 2'000'000;  // traffic starts within the first 2 ms
constexpr uint64_t kSourceBytes = 128 << 10;

template <typename T>
const T& pick(Rng& rng, std::initializer_list<T> values) {
  return values.begin()[rng.below(values.size())];
}

// Sizes spread over orders of magnitude: 1 byte to `max`.
uint64_t log_uniform(Rng& rng, uint64_t max) {
  const uint64_t bits = rng.below(64 - static_cast<uint64_t>(__builtin_clzll(max)));
  return std::min<uint64_t>(max, 1 + rng.below(uint64_t{1} << bits));
}

// The first `n` of a seeded permutation of [0, range).
std::vector<uint32_t> distinct(Rng& rng, uint32_t range, uint32_t n) {
  std::vector<uint32_t> all(range);
  std::iota(all.begin(), all.end(), 0u);
  for (uint32_t i = 0; i < n; ++i) std::swap(all[i], all[i + rng.below(range - i)]);
  all.resize(n);
  return all;
}

ClusterDraw draw_cluster(Rng& rng) {
  ClusterDraw c;
  c.ranks = 2 + static_cast<uint32_t>(rng.below(7));
  const size_t rails = 1 + rng.below(2);
  for (size_t i = 0; i < rails; ++i) c.rail_gbps.push_back(pick(rng, {25.0, 50.0, 100.0, 200.0}));
  c.kind = rng.chance(0.5) ? EndpointKind::kSrd : EndpointKind::kRc;
  c.loss = rng.chance(0.3) ? pick(rng, {1e-5, 1e-4, 1e-3}) : 0;
  c.propagation_delay_ns = 500 + rng.below(4'500);
  c.srd_reorder_window_ns = rng.below(20'000);
  return c;
}

TransferDraw draw_transfer(Rng& rng, const ClusterDraw& c, uint64_t piece_bytes, size_t index,
                           std::vector<uint64_t>& slot_end) {
  TransferDraw t;
  t.kind = static_cast<TransferKind>(rng.below(3));
  t.src = static_cast<uint32_t>(rng.below(c.ranks));
  t.dst = static_cast<uint32_t>((t.src + 1 + rng.below(c.ranks - 1)) % c.ranks);
  t.at_ns = rng.below(kWindowNs);
  if (t.kind == TransferKind::kPaged) {
    // A page travels in one piece: the engine refuses pages larger than a piece.
    t.page_bytes = std::min(piece_bytes, pick(rng, {uint64_t{256}, uint64_t{1024}, uint64_t{4096}, uint64_t{16384}}));
    const uint32_t source_pages = static_cast<uint32_t>(kSourceBytes / t.page_bytes);
    const uint32_t pages = 1 + static_cast<uint32_t>(rng.below(std::min(16u, source_pages)));
    t.src_pages = distinct(rng, source_pages, pages);
    t.dst_pages = distinct(rng, pages, pages);
  } else {
    t.bytes = log_uniform(rng, 96 << 10);
    t.src_offset = rng.below(kSourceBytes - t.bytes + 1);
  }
  // A paged write notifies or not; a write-with-immediate always does.
  const bool notify = t.kind == TransferKind::kWriteWithImm || (t.kind == TransferKind::kPaged && rng.chance(0.5));
  if (notify) t.tag = static_cast<uint16_t>(static_cast<uint16_t>(TagSpace::kUser) | index);
  // Slots are 64-byte aligned, one after another on each target.
  t.dst_offset = slot_end[t.dst];
  slot_end[t.dst] += (t.payload_bytes() + 63) / 64 * 64;
  return t;
}

FaultDraw draw_fault(Rng& rng, const ClusterDraw& c) {
  FaultDraw f;
  f.at_ns = rng.below(kWindowNs + kWindowNs / 4);
  f.node = static_cast<uint32_t>(rng.below(c.ranks));
  f.nic = static_cast<uint32_t>(rng.below(c.rail_gbps.size()));
  const uint64_t roll = rng.below(12);
  if (roll < 3) {
    f.kind = FaultKind::kLossRate;
  } else if (roll < 5) {
    f.kind = c.kind == EndpointKind::kSrd ? FaultKind::kSrdDuplicates : FaultKind::kLossRate;
  } else if (roll < 7) {
    f.kind = FaultKind::kLostAcks;
  } else if (roll < 9) {
    f.kind = FaultKind::kLinkFlap;
  } else if (roll < 11) {
    f.kind = FaultKind::kNicDeath;
  } else {
    f.kind = FaultKind::kNodeLoss;
  }
  f.count = 1 + static_cast<uint32_t>(rng.below(4));
  f.probability = pick(rng, {1e-4, 1e-3, 1e-2});
  f.duration_ns = 10'000 + rng.below(2'000'000);
  return f;
}

}  // namespace

const char* to_string(TransferKind kind) {
  switch (kind) {
    case TransferKind::kWrite: return "write";
    case TransferKind::kWriteWithImm: return "write+imm";
    case TransferKind::kPaged: return "paged";
  }
  return "?";
}

const char* to_string(FaultKind kind) {
  switch (kind) {
    case FaultKind::kLossRate: return "loss";
    case FaultKind::kSrdDuplicates: return "srd-duplicates";
    case FaultKind::kLostAcks: return "lost-acks";
    case FaultKind::kLinkFlap: return "link-flap";
    case FaultKind::kNicDeath: return "nic-death";
    case FaultKind::kNodeLoss: return "node-loss";
  }
  return "?";
}

bool SeedPlan::can_cut(const std::vector<uint32_t>& ranks) const {
  // Per rank, a bit per struck rail; all bits when the node is lost.
  const uint32_t all = (1u << cluster.rail_gbps.size()) - 1;
  std::vector<uint32_t> struck(cluster.ranks, 0);
  for (const FaultDraw& f : faults) {
    if (f.kind == FaultKind::kNodeLoss) struck[f.node] = all;
    if (f.disruptive()) struck[f.node] |= 1u << f.nic;
  }
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (struck[ranks[i]] == all) return true;
    for (size_t j = i + 1; j < ranks.size(); ++j) {
      if ((struck[ranks[i]] | struck[ranks[j]]) == all) return true;
    }
  }
  return false;
}

uint64_t SeedPlan::last_fault_ns() const {
  uint64_t last = 0;
  for (const FaultDraw& f : faults) last = std::max(last, f.at_ns + (f.kind == FaultKind::kLinkFlap ? f.duration_ns : 0));
  return last;
}

SeedPlan draw_plan(uint64_t seed) {
  // Mixed first, so that neighbouring seeds draw unrelated runs.
  Rng rng(splitmix64(seed ^ 0x5357'4152'4d00'0000ull));
  SeedPlan p;
  p.seed = seed;
  p.cluster = draw_cluster(rng);
  p.source_bytes = kSourceBytes;
  p.transfer_timeout_ns = 100'000'000;  // 100 ms: failures end quickly in virtual time
  // A dead peer is noticed within 2 ms + 3 retries of 200 us; a wait on a live one that
  // will never notify (its transfer failed) ends at 200 ms.
  p.keepalive_interval_ns = 2'000'000;
  p.peer_wait_timeout_ns = 200'000'000;
  p.stripe_threshold_bytes = pick(rng, {uint64_t{16} << 10, uint64_t{64} << 10, uint64_t{256} << 10});
  p.piece_bytes = pick(rng, {uint64_t{8} << 10, uint64_t{32} << 10, uint64_t{1} << 20});
  std::vector<uint64_t> slot_end(p.cluster.ranks, kSourceBytes);
  const size_t transfers = 2 + rng.below(30);
  for (size_t i = 0; i < transfers; ++i) p.transfers.push_back(draw_transfer(rng, p.cluster, p.piece_bytes, i, slot_end));
  p.buffer_bytes = *std::max_element(slot_end.begin(), slot_end.end());

  if (rng.chance(0.7)) {
    p.collective.present = true;
    p.collective.algorithm = pick(rng, {coll::Algorithm::kAuto, coll::Algorithm::kRing, coll::Algorithm::kOneShot,
                                        coll::Algorithm::kTwoShot});
    p.collective.count = log_uniform(rng, 1 << 15);
    p.collective.scratch_bytes = pick(rng, {uint64_t{64} << 10, uint64_t{256} << 10, uint64_t{1} << 20});
    p.collective.at_ns = rng.below(kWindowNs);
  }
  if (rng.chance(0.6)) {
    std::vector<std::pair<uint32_t, uint32_t>> shapes;
    for (uint32_t prefill : {1u, 2u, 4u}) {
      for (uint32_t decode : {1u, 2u, 4u}) {
        if (prefill + decode <= p.cluster.ranks) shapes.emplace_back(prefill, decode);
      }
    }
    const auto [prefill, decode] = shapes[rng.below(shapes.size())];
    p.kv = KvDraw{true, prefill, decode, 1 + static_cast<uint32_t>(rng.below(12)), rng.below(kWindowNs),
                  rng.below(200'000)};
  }
  if (rng.chance(0.5)) {
    BroadcastDraw& b = p.broadcast;
    b.present = true;
    b.root = static_cast<uint32_t>(rng.below(p.cluster.ranks));
    b.bytes = log_uniform(rng, 64 << 10);
    b.fanout = 1 + static_cast<uint32_t>(rng.below(3));
    b.chunk_bytes = pick(rng, {uint64_t{1} << 10, uint64_t{4} << 10, uint64_t{16} << 10});
    b.chunks_in_flight = 1 + static_cast<uint32_t>(rng.below(4));
    b.at_ns = rng.below(kWindowNs);
  }
  if (rng.chance(0.5)) {
    PipelineDraw& l = p.pipeline;
    l.present = true;
    l.src = static_cast<uint32_t>(rng.below(p.cluster.ranks));
    l.dst = static_cast<uint32_t>((l.src + 1 + rng.below(p.cluster.ranks - 1)) % p.cluster.ranks);
    l.credits = 1 + static_cast<uint32_t>(rng.below(4));
    l.max_bytes = log_uniform(rng, 32 << 10);
    l.micro_batches = 1 + static_cast<uint32_t>(rng.below(12));
    l.at_ns = rng.below(kWindowNs);
  }
  const size_t faults = rng.below(5);
  for (size_t i = 0; i < faults; ++i) p.faults.push_back(draw_fault(rng, p.cluster));
  return p;
}

std::string describe(const SeedPlan& p) {
  char line[256];
  std::string out;
  auto add = [&](const char* format, auto... args) {
    std::snprintf(line, sizeof line, format, args...);
    out += line;
    out += '\n';
  };
  std::string rails;
  for (double g : p.cluster.rail_gbps) rails += (rails.empty() ? "" : "+") + std::to_string(static_cast<int>(g)) + "G";
  add("cluster: emu deterministic, %u ranks, rails %s, %s, loss %g, propagation %llu ns, SRD reorder window %llu ns",
      p.cluster.ranks, rails.c_str(), to_string(p.cluster.kind), p.cluster.loss,
      static_cast<unsigned long long>(p.cluster.propagation_delay_ns),
      static_cast<unsigned long long>(p.cluster.srd_reorder_window_ns));
  add("engine: transfer timeout %llu ms, keepalive %llu ms, peer wait timeout %llu ms, stripes above %llu KiB, "
      "pieces of %llu KiB",
      static_cast<unsigned long long>(p.transfer_timeout_ns / 1'000'000),
      static_cast<unsigned long long>(p.keepalive_interval_ns / 1'000'000),
      static_cast<unsigned long long>(p.peer_wait_timeout_ns / 1'000'000),
      static_cast<unsigned long long>(p.stripe_threshold_bytes >> 10), static_cast<unsigned long long>(p.piece_bytes >> 10));
  add("transfers: %zu", p.transfers.size());
  for (size_t i = 0; i < p.transfers.size(); ++i) {
    const TransferDraw& t = p.transfers[i];
    add("  #%zu %s rank%u -> rank%u at %llu ns, %llu bytes%s%s", i, to_string(t.kind), t.src, t.dst,
        static_cast<unsigned long long>(t.at_ns), static_cast<unsigned long long>(t.payload_bytes()),
        t.kind == TransferKind::kPaged ? (" in " + std::to_string(t.src_pages.size()) + " pages").c_str() : "",
        t.tag ? ", notified" : "");
  }
  if (p.collective.present) {
    add("collective: all_reduce (%s) of %llu fp32 per rank, scratch %llu KiB, at %llu ns",
        coll::to_string(p.collective.algorithm), static_cast<unsigned long long>(p.collective.count),
        static_cast<unsigned long long>(p.collective.scratch_bytes >> 10),
        static_cast<unsigned long long>(p.collective.at_ns));
  }
  if (p.kv.present) {
    add("kv: one request of %u blocks, prefill TP %u (ranks 0..%u) -> decode TP %u, at %llu ns, layers %llu ns apart",
        p.kv.blocks, p.kv.prefill_tp, p.kv.prefill_tp - 1, p.kv.decode_tp, static_cast<unsigned long long>(p.kv.at_ns),
        static_cast<unsigned long long>(p.kv.layer_gap_ns));
  }
  if (p.broadcast.present) {
    const BroadcastDraw& b = p.broadcast;
    add("weights: a broadcast of %llu bytes from rank%u, fanout %u, chunks of %llu KiB, %u in flight, at %llu ns",
        static_cast<unsigned long long>(b.bytes), b.root, b.fanout, static_cast<unsigned long long>(b.chunk_bytes >> 10),
        b.chunks_in_flight, static_cast<unsigned long long>(b.at_ns));
  }
  if (p.pipeline.present) {
    const PipelineDraw& l = p.pipeline;
    add("pipeline: rank%u -> rank%u, %u micro-batches of up to %llu bytes, %u credits, at %llu ns", l.src, l.dst,
        l.micro_batches, static_cast<unsigned long long>(l.max_bytes), l.credits,
        static_cast<unsigned long long>(l.at_ns));
  }
  add("faults: %zu", p.faults.size());
  for (const FaultDraw& f : p.faults) {
    std::string what;
    if (f.kind == FaultKind::kLossRate) what = ", probability " + std::to_string(f.probability);
    if (f.kind == FaultKind::kSrdDuplicates || f.kind == FaultKind::kLostAcks) what = ", next " + std::to_string(f.count) + " operations";
    if (f.kind == FaultKind::kLinkFlap) what = ", up after " + std::to_string(f.duration_ns) + " ns";
    add("  %s at %llu ns, node %u nic %u%s", to_string(f.kind), static_cast<unsigned long long>(f.at_ns), f.node,
        f.nic, what.c_str());
  }
  return out;
}

}  // namespace ferry::swarm
