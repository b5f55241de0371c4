// Prefill -> decode migration end to end: every element checked on the decode side, for
// equal, split and gathered tensor parallelism with different random block tables on
// each side, layer by layer streaming, concurrent requests, RC and SRD, both emu modes,
// and the same seed giving the same trace.
#include <gtest/gtest.h>

#include <tuple>

#include "transport/workloads/kv/testing/kv_cluster.h"

namespace ferry::testing {
namespace {

struct TpPair {
  uint32_t prefill;
  uint32_t decode;
};

KvClusterOptions options(TpPair tp, std::string mode, EndpointKind kind, uint64_t seed = 1) {
  KvClusterOptions o = kv_options(tp.prefill, tp.decode, mode, kind);
  o.seed = seed;
  return o;
}

KvRequest request(const KvCluster& kv, uint64_t id, size_t first, size_t blocks) {
  return kv_request(kv.options(), id, first, blocks);
}

class KvMigration : public ::testing::TestWithParam<std::tuple<TpPair, std::string, EndpointKind>> {};

TEST_P(KvMigration, EveryElementLandsWhereTheDecodeBlockTableSays) {
  const auto [tp, mode, kind] = GetParam();
  KvCluster kv(options(tp, mode, kind));
  const KvRequest req = request(kv, 1, 0, 6);
  const auto before = kv.snapshot();
  kv.fill(req, 1);
  ASSERT_TRUE(kv.begin(req));
  KvRequestTasks tasks = kv.watch(req.id);
  for (uint32_t layer = 0; layer < kv.options().prefill.layers; ++layer) ASSERT_TRUE(kv.layer_ready(req.id, layer));
  ASSERT_TRUE(kv.run_until([&] { return tasks.done(); }));
  expect_completed(tasks);
  EXPECT_TRUE(kv.holds(req, 1));
  EXPECT_TRUE(kv.unchanged_except(before, req.decode_blocks));
  // Each prefill rank moved its heads of every layer, K and V, once.
  uint64_t bytes = 0;
  for (auto& t : tasks.senders) bytes += t.result().bytes;
  const PagedKvLayout& l = kv.options().prefill;
  EXPECT_EQ(bytes, uint64_t{l.layers} * kKvParts * 6 * l.block_tokens * l.kv_heads * l.head_bytes());
  if (mode == fabrics::kEmu) {
    for (auto& t : tasks.senders) EXPECT_GT(t.result().migration_ns(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    TpPairs, KvMigration,
    ::testing::Combine(::testing::Values(TpPair{1, 1}, TpPair{2, 2}, TpPair{4, 8}, TpPair{8, 2}, TpPair{2, 4}),
                       ::testing::Values(fabrics::kEmuFast, fabrics::kEmu),
                       ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd)),
    [](const auto& info) {
      const TpPair tp = std::get<0>(info.param);
      return "Tp" + std::to_string(tp.prefill) + "to" + std::to_string(tp.decode) + "_" +
             provider_kind_name(std::get<1>(info.param), std::get<2>(info.param));
    });

class KvModes : public ::testing::TestWithParam<std::tuple<std::string, EndpointKind>> {
 protected:
  KvClusterOptions options(TpPair tp) const {
    return ::ferry::testing::options(tp, std::get<0>(GetParam()), std::get<1>(GetParam()));
  }
  bool deterministic() const { return std::get<0>(GetParam()) == fabrics::kEmu; }
};

// Layers become ready one by one; each decode rank has layer l in place, and knows it,
// before layer l+1 is even computed. In virtual time a compute gap separates layers.
TEST_P(KvModes, DecodeUsesEachLayerAsSoonAsItLands) {
  KvCluster kv(options({2, 4}));
  const KvRequest req = request(kv, 3, 0, 5);
  kv.fill(req, 2);
  ASSERT_TRUE(kv.begin(req));
  KvRequestTasks tasks = kv.watch(req.id);
  const uint32_t layers = kv.options().prefill.layers, decode_ranks = kv.options().decode.tp;
  std::vector<std::vector<Task<TransferResult>>> landed(layers);  // [layer][decode rank]
  for (uint32_t l = 0; l < layers; ++l) {
    for (uint32_t d = 0; d < decode_ranks; ++d) {
      landed[l].push_back(kv.receiver(d).layer(req.id, l));
      landed[l].back().start();
    }
  }
  std::vector<Task<TransferResult>> all;
  for (uint32_t d = 0; d < decode_ranks; ++d) {
    all.push_back(kv.receiver(d).all(req.id));
    all.back().start();
  }
  constexpr uint64_t kComputeNs = 200'000;
  for (uint32_t l = 0; l < layers; ++l) {
    ASSERT_TRUE(kv.layer_ready(req.id, l));
    ASSERT_TRUE(kv.run_until([&] {
      return std::all_of(landed[l].begin(), landed[l].end(), [](const auto& t) { return t.done(); });
    })) << "layer " << l;
    for (auto& t : landed[l]) EXPECT_TRUE(t.result().ok()) << t.result().error().message;
    for (uint32_t later = l + 1; later < layers; ++later) {
      for (auto& t : landed[later]) EXPECT_FALSE(t.done()) << "layer " << later << " before it was ready";
    }
    for (auto& t : all) EXPECT_EQ(t.done(), l + 1 == layers);
    if (deterministic()) {
      const uint64_t until = kv.fabric().now_ns() + kComputeNs;
      ASSERT_TRUE(kv.run_until([&] { return kv.fabric().now_ns() >= until; }));
    }
  }
  ASSERT_TRUE(kv.run_until([&] { return tasks.done(); }));
  for (auto& t : all) EXPECT_TRUE(t.result().ok()) << t.result().error().message;
  expect_completed(tasks);
  EXPECT_TRUE(kv.holds(req, 2));
  if (deterministic()) {
    // From the first layer ready to the last landed: at least the compute between them.
    for (auto& t : tasks.senders) EXPECT_GE(t.result().migration_ns(), (layers - 1) * kComputeNs);
    for (auto& t : tasks.receivers) {
      EXPECT_GE(t.result().last_landed_ns - t.result().first_landed_ns, (layers - 1) * kComputeNs);
    }
  }
}

// Several requests at once, layers interleaved across them, disjoint blocks on each
// side: each decode block ends up with its own request's content.
TEST_P(KvModes, ConcurrentRequestsKeepToTheirOwnBlocks) {
  KvCluster kv(options({4, 2}));
  const auto before = kv.snapshot();
  std::vector<KvRequest> reqs;
  std::vector<KvRequestTasks> tasks;
  KvBlockTable all_decode_blocks;
  for (uint32_t i = 0; i < 3; ++i) {
    reqs.push_back(request(kv, 10 + i, i * 7, 3 + i * 2));
    kv.fill(reqs.back(), 1 + i);
    ASSERT_TRUE(kv.begin(reqs.back()));
    tasks.push_back(kv.watch(reqs.back().id));
    all_decode_blocks.insert(all_decode_blocks.end(), reqs.back().decode_blocks.begin(), reqs.back().decode_blocks.end());
  }
  for (uint32_t l = 0; l < kv.options().prefill.layers; ++l) {
    for (const KvRequest& r : reqs) {
      ASSERT_TRUE(kv.layer_ready(r.id, l));
      for (int i = 0; i < 20; ++i) kv.cluster().round();  // some of it on the wire meanwhile
    }
  }
  ASSERT_TRUE(kv.run_until([&] { return std::all_of(tasks.begin(), tasks.end(), [](auto& t) { return t.done(); }); }));
  for (size_t i = 0; i < reqs.size(); ++i) {
    expect_completed(tasks[i]);
    EXPECT_TRUE(kv.holds(reqs[i], 1 + static_cast<uint32_t>(i)));
  }
  EXPECT_TRUE(kv.unchanged_except(before, all_decode_blocks));
}

INSTANTIATE_TEST_SUITE_P(All, KvModes,
                         ::testing::Combine(::testing::Values(fabrics::kEmuFast, fabrics::kEmu),
                                            ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd)),
                         [](const auto& info) { return provider_kind_name(std::get<0>(info.param), std::get<1>(info.param)); });

// Two concurrent requests on SRD (reordering drawn from the seed), streamed layer by layer.
struct RunDigest {
  uint64_t trace_hash = 0;
  std::vector<uint64_t> migration_ns;
  bool operator==(const RunDigest&) const = default;
};

RunDigest run_seeded(uint64_t seed) {
  KvCluster kv(options({2, 4}, fabrics::kEmu, EndpointKind::kSrd, seed));
  RunDigest digest;
  std::vector<KvRequest> reqs = {request(kv, 1, 0, 4), request(kv, 2, 4, 6)};
  std::vector<KvRequestTasks> tasks;
  for (size_t i = 0; i < reqs.size(); ++i) {
    kv.fill(reqs[i], 1 + static_cast<uint32_t>(i));
    EXPECT_TRUE(kv.begin(reqs[i]));
    tasks.push_back(kv.watch(reqs[i].id));
  }
  for (uint32_t l = 0; l < kv.options().prefill.layers; ++l) {
    for (const KvRequest& r : reqs) EXPECT_TRUE(kv.layer_ready(r.id, l));
    for (int i = 0; i < 50; ++i) kv.cluster().round();
  }
  EXPECT_TRUE(kv.run_until([&] { return tasks[0].done() && tasks[1].done(); }));
  for (size_t i = 0; i < reqs.size(); ++i) {
    expect_completed(tasks[i]);
    EXPECT_TRUE(kv.holds(reqs[i], 1 + static_cast<uint32_t>(i)));
    for (auto& t : tasks[i].senders) digest.migration_ns.push_back(t.result().migration_ns());
  }
  digest.trace_hash = kv.fabric().trace_hash();
  return digest;
}

TEST(KvDeterminism, TheSameSeedGivesTheSameTrace) {
  const RunDigest first = run_seeded(7);
  EXPECT_NE(first.trace_hash, 0u);
  EXPECT_TRUE(run_seeded(7) == first);
}

// Malformed or clashing requests are refused before anything moves.
TEST(KvRequests, RefusesWhatCannotBeServed) {
  KvCluster kv(options({2, 2}, fabrics::kEmu, EndpointKind::kRc));
  KvSender& sender = kv.sender(0);
  KvReceiver& receiver = kv.receiver(0);
  const KvRequest req = request(kv, 5, 0, 3);
  ASSERT_TRUE(kv.begin(req));
  EXPECT_FALSE(sender.begin(req).ok()) << "begun twice";
  EXPECT_FALSE(receiver.begin(req).ok()) << "begun twice";
  // Another id on the same tag slot, while the first is live.
  KvRequest clash = request(kv, 5 + KvRequestTags::slots(kv.options().prefill.layers), 3, 3);
  EXPECT_EQ(sender.begin(clash).error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(receiver.begin(clash).error().code, ErrorCode::kResourceExhausted);
  KvRequest uneven = request(kv, 6, 3, 3);
  uneven.decode_blocks.pop_back();
  EXPECT_FALSE(sender.begin(uneven).ok());
  KvRequest outside = request(kv, 7, 3, 3);
  outside.decode_blocks[0] = kv.options().decode.num_blocks;
  EXPECT_EQ(receiver.begin(outside).error().code, ErrorCode::kOutOfRange);

  EXPECT_EQ(sender.layer_ready(req.id, kv.options().prefill.layers).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(sender.layer_ready(99, 0).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(sender.layer_ready(req.id, 0).ok());
  EXPECT_FALSE(sender.layer_ready(req.id, 0).ok()) << "handed over twice";
  ASSERT_TRUE(kv.sender(1).layer_ready(req.id, 0).ok());
  Task<KvReceiveReport> unknown = receiver.finished(99);
  unknown.start();
  ASSERT_TRUE(unknown.done());
  EXPECT_EQ(unknown.result().result.error().code, ErrorCode::kNotFound);

  // The rest of the request still completes.
  KvRequestTasks tasks = kv.watch(req.id);
  for (uint32_t l = 1; l < kv.options().prefill.layers; ++l) ASSERT_TRUE(kv.layer_ready(req.id, l));
  ASSERT_TRUE(kv.run_until([&] { return tasks.done(); }));
  expect_completed(tasks);
  // Once it was forgotten, its slot serves the clashing id.
  EXPECT_TRUE(kv.begin(clash));
}

// Two live requests whose ids are equal modulo the tag slots: each gets its own slot
// from the allocator, so both migrate at once, every element checked.
TEST(KvRequests, IdsThatShareASlotRunTogetherOnAllocatedSlots) {
  KvCluster kv(options({2, 2}, fabrics::kEmu, EndpointKind::kRc));
  const uint32_t layers = kv.options().prefill.layers;
  KvTagSlots slots(layers);
  const KvRequest a = request(kv, 5, 0, 3);
  const KvRequest b = request(kv, 5 + KvRequestTags::slots(layers), 3, 3);
  auto slot_a = slots.allocate();
  auto slot_b = slots.allocate();
  ASSERT_TRUE(slot_a.ok() && slot_b.ok());
  EXPECT_NE(*slot_a, *slot_b);
  kv.fill(a, 1);
  kv.fill(b, 2);
  ASSERT_TRUE(kv.begin(a, 0, *slot_a));
  ASSERT_TRUE(kv.begin(b, 0, *slot_b));
  KvRequestTasks ta = kv.watch(a.id), tb = kv.watch(b.id);
  for (uint32_t l = 0; l < layers; ++l) {
    ASSERT_TRUE(kv.layer_ready(b.id, l));
    ASSERT_TRUE(kv.layer_ready(a.id, l));
  }
  ASSERT_TRUE(kv.run_until([&] { return ta.done() && tb.done(); }));
  expect_completed(ta);
  expect_completed(tb);
  EXPECT_TRUE(kv.holds(a, 1));
  EXPECT_TRUE(kv.holds(b, 2));
}

// Every slot in use: the next allocation is refused, saying so; a released slot is
// handed out again. A slot outside the tag space is refused by begin().
TEST(KvRequests, TagSlotsRefuseClearlyWhenExhausted) {
  constexpr uint32_t kLayers = 80;
  KvTagSlots slots(kLayers);
  const uint32_t total = KvRequestTags::slots(kLayers);
  for (uint32_t i = 0; i < total; ++i) {
    auto slot = slots.allocate();
    ASSERT_TRUE(slot.ok());
    EXPECT_EQ(*slot, i);
  }
  auto none = slots.allocate();
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kResourceExhausted);
  EXPECT_NE(none.error().message.find(std::to_string(total)), std::string::npos) << none.error().message;
  slots.release(42);
  auto again = slots.allocate();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 42u);

  KvCluster kv(options({1, 1}, fabrics::kEmu, EndpointKind::kRc));
  const KvRequest outside = request(kv, 9, 0, 2);
  const uint32_t past_the_end = KvRequestTags::slots(kv.options().prefill.layers);
  auto refused = kv.sender(0).begin(outside, past_the_end);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(kv.receiver(0).begin(outside, past_the_end).error().code, ErrorCode::kOutOfRange);
}

}  // namespace
}  // namespace ferry::testing
