// Every transfer kind of the engine, on RC and SRD, in both emu modes, bytes verified.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <tuple>

#include "emu/fabric.h"
#include "transport/random.h"
#include "transport/engine/testing/world.h"

namespace ferry::testing {
namespace {

class EngineTransfers : public ::testing::TestWithParam<std::tuple<std::string, EndpointKind>> {
 protected:
  WorldOptions options(size_t ranks = 2, std::vector<double> rails = {100}) const {
    WorldOptions o;
    o.provider = std::get<0>(GetParam());
    o.kind = std::get<1>(GetParam());
    o.ranks = ranks;
    o.rail_gbps = std::move(rails);
    return o;
  }
};

TEST_P(EngineTransfers, WriteLandsAndNotifiesTheTarget) {
  World w(options());
  w.fill(0, 0, 300'000, 1);
  int notified = 0;
  ASSERT_TRUE(w.engine(1).expect("rank0", 5, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
  Outcome out;
  auto id = w.engine(0).write("rank1", w.buffers[0].data(), 300'000, w.regions[0][1], 4096,
                              Notify{5, 0}, out.callback());
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  ASSERT_TRUE(w.cluster.run_until([&] { return out.done() && notified == 1; }));
  EXPECT_TRUE(out.result.ok()) << out.result.error().message;
  EXPECT_EQ(out.calls, 1);
  EXPECT_TRUE(w.holds(1, 4096, 0, 0, 300'000, 1));
  EXPECT_EQ(w.buffers[1][4095], 0) << "a byte before the target range was written";
  EXPECT_EQ(w.buffers[1][4096 + 300'000], 0) << "a byte after the target range was written";
  EXPECT_EQ(w.engine(0).transfers_in_flight(), 0u);
  EXPECT_EQ(w.engine(0).stats().peers["rank1"].bytes, 300'000u);
  // Delivered once: one callback each, one notification, every byte on the wire once.
  w.linger();
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(notified, 1);
  EXPECT_EQ(w.notifications(1, 0), 1u);
  EXPECT_EQ(w.rx_bytes(1), 300'000u);
}

TEST_P(EngineTransfers, SmallWriteCarriesItsNotificationAsTheImmediate) {
  World w(options());
  w.fill(0, 0, 64, 2);
  int notified = 0;
  ASSERT_TRUE(w.engine(1).expect("rank0", 9, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
  Outcome out;
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 64, w.regions[0][1], 0, Notify{9, 3},
                                out.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return out.done() && notified == 1; }));
  EXPECT_TRUE(w.holds(1, 0, 0, 0, 64, 2));
  // One work request moved it: no separate notification.
  EXPECT_EQ(w.engine(0).stats().peers["rank1"].operations, 1u);
  w.linger();
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(notified, 1);
  EXPECT_EQ(w.notifications(1, 0), 1u);
  EXPECT_EQ(w.rx_bytes(1), 64u);
}

// A header from its own registration and a payload from the world's buffer land end to end
// under one notification: one work request when small, striped pieces when large.
TEST_P(EngineTransfers, GatheredWriteLandsItsSourcesEndToEnd) {
  for (const uint64_t payload : {uint64_t{100}, uint64_t{300'000}}) {
    World w(options(2, {100, 100}));
    w.fill(0, 0, payload, 4);
    std::vector<uint8_t> header(16);
    std::iota(header.begin(), header.end(), uint8_t{200});
    ASSERT_TRUE(w.engine(0).register_memory(header.data(), header.size()).ok());
    int notified = 0;
    ASSERT_TRUE(w.engine(1).expect("rank0", 7, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
    const WriteSource sources[] = {{header.data(), header.size()}, {w.buffers[0].data(), payload}};
    Outcome out;
    auto id = w.engine(0).write_gather("rank1", sources, w.regions[0][1], 1000, Notify{7, 0}, out.callback());
    ASSERT_TRUE(id.ok()) << id.error().to_string();
    ASSERT_TRUE(w.cluster.run_until([&] { return out.done() && notified == 1; }));
    EXPECT_TRUE(out.result.ok()) << out.result.error().message;
    EXPECT_TRUE(std::equal(header.begin(), header.end(), w.buffers[1].begin() + 1000));
    EXPECT_TRUE(w.holds(1, 1016, 0, 0, payload, 4)) << payload << " bytes";
    EXPECT_EQ(w.buffers[1][999], 0) << "a byte before the target range was written";
    EXPECT_EQ(w.buffers[1][1016 + payload], 0) << "a byte after the target range was written";
    if (payload == 100) {
      EXPECT_EQ(w.engine(0).stats().peers["rank1"].operations, 1u) << "one work request";
    }
    // The header's registration is held until the write is done.
    EXPECT_TRUE(w.engine(0).deregister_memory(header.data()).ok());
    w.linger();
    EXPECT_EQ(out.calls, 1);
    EXPECT_EQ(notified, 1);
  }
}

TEST_P(EngineTransfers, GatheredWriteRefusesEmptyAndUnregisteredSources) {
  World w(options());
  std::vector<uint8_t> loose(16);
  const WriteSource unregistered[] = {{loose.data(), loose.size()}};
  const WriteSource empty[] = {{w.buffers[0].data(), 0}};
  for (auto sources : {std::span<const WriteSource>(unregistered), std::span<const WriteSource>(empty),
                       std::span<const WriteSource>()}) {
    auto id = w.engine(0).write_gather("rank1", sources, w.regions[0][1], 0, std::nullopt,
                                       [](const TransferResult&) {});
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.error().code, ErrorCode::kInvalidArgument) << id.error().message;
  }
}

TEST_P(EngineTransfers, PagedWriteFollowsBothBlockTables) {
  WorldOptions o = options();
  o.bytes = 512 * 1024;
  World w(o);
  constexpr uint64_t kPage = 1024;
  w.fill(0, 0, o.bytes, 3);
  // Random, different block tables on both sides (128 pages of 512 used).
  ferry::Rng rng(7);
  std::vector<uint32_t> src(512), dst(512);
  std::iota(src.begin(), src.end(), 0u);
  std::iota(dst.begin(), dst.end(), 0u);
  for (size_t i = 511; i > 0; --i) {
    std::swap(src[i], src[rng.below(i + 1)]);
    std::swap(dst[i], dst[rng.below(i + 1)]);
  }
  src.resize(128);
  dst.resize(128);
  std::sort(dst.begin(), dst.begin() + 40);  // some contiguous runs to merge
  int notified = 0;
  ASSERT_TRUE(w.engine(1).expect("rank0", 1, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
  PagedTransfer pages{src, dst, kPage, w.buffers[0].data(), kPage, w.regions[0][1], 0, kPage};
  Outcome out;
  auto id = w.engine(0).write_paged("rank1", pages, Notify{1, 0}, out.callback());
  ASSERT_TRUE(id.ok()) << id.error().to_string();
  ASSERT_TRUE(w.cluster.run_until([&] { return out.done() && notified == 1; }));
  ASSERT_TRUE(out.result.ok()) << out.result.error().message;
  for (size_t i = 0; i < src.size(); ++i) {
    ASSERT_TRUE(w.holds(1, dst[i] * kPage, 0, src[i] * kPage, kPage, 3)) << "page " << i;
  }
  w.linger();
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(notified, 1);
  EXPECT_EQ(w.notifications(1, 0), 1u);
  EXPECT_EQ(w.rx_bytes(1), src.size() * kPage);
  // Pages not in the table stay untouched.
  std::vector<bool> used(512, false);
  for (uint32_t d : dst) used[d] = true;
  for (uint32_t page = 0; page < 512; ++page) {
    if (!used[page]) {
      EXPECT_TRUE(std::all_of(w.buffers[1].begin() + page * kPage, w.buffers[1].begin() + (page + 1) * kPage,
                              [](uint8_t b) { return b == 0; }))
          << "page " << page;
    }
  }
}

TEST_P(EngineTransfers, ScatterReachesEveryTarget) {
  World w(options(4));
  w.fill(0, 0, 100'000, 4);
  int notified = 0;
  for (size_t r = 1; r < 4; ++r) ASSERT_TRUE(w.engine(r).expect("rank0", 2, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
  std::vector<ScatterTarget> targets;
  for (size_t r = 1; r < 4; ++r) targets.push_back({rank_name(r), w.regions[0][r], r * 1000});
  Outcome out;
  ASSERT_TRUE(w.engine(0).scatter(w.buffers[0].data(), 100'000, targets, Notify{2, 0}, out.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return out.done() && notified == 3; }));
  ASSERT_TRUE(out.result.ok()) << out.result.error().message;
  for (size_t r = 1; r < 4; ++r) EXPECT_TRUE(w.holds(r, r * 1000, 0, 0, 100'000, 4)) << "rank " << r;
  w.linger();
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(notified, 3);
  for (size_t r = 1; r < 4; ++r) {
    EXPECT_EQ(w.notifications(r, 0), 1u) << "rank " << r;
    EXPECT_EQ(w.rx_bytes(r), 100'000u) << "rank " << r;
  }
}

TEST_P(EngineTransfers, NotificationsCountDistinctIndicesUnderReordering) {
  World w(options());
  constexpr uint32_t kWrites = 64;
  w.fill(0, 0, kWrites * 512, 5);
  int notified = 0;
  ASSERT_TRUE(w.engine(1).expect("rank0", 11, kWrites, [&](const TransferResult& r) { notified += r.ok(); }).ok());
  int done = 0;
  for (uint32_t i = 0; i < kWrites; ++i) {
    ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data() + i * 512, 512, w.regions[0][1], i * 512,
                                  Notify{11, static_cast<uint16_t>(i)},
                                  [&](const TransferResult& r) { done += r.ok(); }).ok());
  }
  ASSERT_TRUE(w.cluster.run_until([&] { return done == kWrites && notified == 1; }));
  EXPECT_TRUE(w.holds(1, 0, 0, 0, kWrites * 512, 5));
  // Nothing fires twice, however long we keep going.
  w.linger();
  EXPECT_EQ(notified, 1);
  EXPECT_EQ(done, int(kWrites));
  EXPECT_EQ(w.notifications(1, 0), kWrites);
  EXPECT_EQ(w.rx_bytes(1), kWrites * 512);
}

TEST_P(EngineTransfers, BarrierReleasesEveryoneOnceAllArrived) {
  World w(options(4));
  std::vector<std::string> group = {"rank0", "rank1", "rank2", "rank3"};
  std::vector<Outcome> out(4);
  // Ranks join one after another; none finishes before the last joined.
  for (size_t r = 0; r < 3; ++r) {
    ASSERT_TRUE(w.engine(r).barrier(group, 77, out[r].callback()).ok());
    for (int i = 0; i < 200; ++i) w.cluster.round();
    for (size_t q = 0; q <= r; ++q) EXPECT_FALSE(out[q].done()) << "rank " << q << " left early";
  }
  ASSERT_TRUE(w.engine(3).barrier(group, 77, out[3].callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] {
    return std::all_of(out.begin(), out.end(), [](const Outcome& o) { return o.done(); });
  }));
  for (const Outcome& o : out) {
    EXPECT_TRUE(o.result.ok()) << o.result.error().message;
    EXPECT_EQ(o.calls, 1);
  }
}

TEST_P(EngineTransfers, MessagesArriveInOrderExactlyOnce) {
  World w(options());
  std::vector<uint32_t> received;
  w.engine(1).on_message([&](const std::string& from, std::span<const uint8_t> bytes) {
    EXPECT_EQ(from, "rank0");
    uint32_t v = 0;
    ASSERT_EQ(bytes.size(), 4u);
    std::memcpy(&v, bytes.data(), 4);
    received.push_back(v);
  });
  int sent = 0;
  constexpr uint32_t kMessages = 40;  // fewer than the control slots
  for (uint32_t i = 0; i < kMessages; ++i) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(&i);
    ASSERT_TRUE(w.engine(0).send_message("rank1", {p, 4}, [&](const TransferResult& r) { sent += r.ok(); }).ok());
  }
  ASSERT_TRUE(w.cluster.run_until([&] { return sent == int(kMessages) && received.size() == kMessages; }));
  for (uint32_t i = 0; i < kMessages; ++i) EXPECT_EQ(received[i], i);
  w.linger();
  EXPECT_EQ(received.size(), kMessages);
  EXPECT_EQ(sent, int(kMessages));
}

TEST_P(EngineTransfers, ConnectsLazilyFromEitherSideAtOnce) {
  World w(options());
  w.fill(0, 0, 1000, 6);
  w.fill(1, 5000, 1000, 6);
  Outcome a, b;
  // Both sides start talking before either is connected.
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 1000, w.regions[0][1], 0, std::nullopt, a.callback()).ok());
  ASSERT_TRUE(w.engine(1).write("rank0", w.buffers[1].data() + 5000, 1000, w.regions[1][0], 5000, std::nullopt, b.callback()).ok());
  EXPECT_FALSE(w.engine(0).peer_connected("rank1"));
  ASSERT_TRUE(w.cluster.run_until([&] { return a.done() && b.done(); }));
  EXPECT_TRUE(a.result.ok()) << a.result.error().message;
  EXPECT_TRUE(b.result.ok()) << b.result.error().message;
  EXPECT_TRUE(w.engine(0).peer_connected("rank1"));
  EXPECT_TRUE(w.holds(1, 0, 0, 0, 1000, 6));
  EXPECT_TRUE(w.holds(0, 5000, 1, 5000, 1000, 6));
}

TEST_P(EngineTransfers, SynchronousErrorsNameTheProblem) {
  World w(options());
  std::vector<uint8_t> unregistered(64);
  auto no_peer = w.engine(0).write("nobody", w.buffers[0].data(), 8, w.regions[0][1], 0, std::nullopt, nullptr);
  ASSERT_FALSE(no_peer.ok());
  EXPECT_NE(no_peer.error().message.find("unknown peer 'nobody'"), std::string::npos);
  auto no_mr = w.engine(0).write("rank1", unregistered.data(), 8, w.regions[0][1], 0, std::nullopt, nullptr);
  ASSERT_FALSE(no_mr.ok());
  EXPECT_NE(no_mr.error().message.find("not inside registered memory"), std::string::npos);
  auto past_end = w.engine(0).write("rank1", w.buffers[0].data(), 8, w.regions[0][1],
                                    w.buffers[1].size() - 7, std::nullopt, nullptr);
  ASSERT_FALSE(past_end.ok());
  EXPECT_EQ(past_end.error().code, ErrorCode::kOutOfRange);
  auto foreign = w.engine(0).write("rank1", w.buffers[0].data(), 8, RemoteRegion{999}, 0, std::nullopt, nullptr);
  EXPECT_FALSE(foreign.ok());
  std::vector<uint8_t> big(w.engine(0).stats().rails.size() * 8192);
  auto too_big = w.engine(0).send_message("rank1", big, nullptr);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.error().code, ErrorCode::kOutOfRange);
}

TEST_P(EngineTransfers, DeregistrationWaitsForTransfersInFlight) {
  World w(options());
  Outcome out;
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 4096, w.regions[0][1], 0, std::nullopt,
                                out.callback()).ok());
  auto refused = w.engine(0).deregister_memory(w.buffers[0].data());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(w.cluster.run_until([&] { return out.done(); }));
  EXPECT_TRUE(w.engine(0).deregister_memory(w.buffers[0].data()).ok());
}

INSTANTIATE_TEST_SUITE_P(
    All, EngineTransfers,
    ::testing::Combine(::testing::Values(fabrics::kEmuFast, fabrics::kEmu),
                       ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd)),
    [](const auto& info) { return provider_kind_name(std::get<0>(info.param), std::get<1>(info.param)); });

// The engine's SRD path on NICs with EFA's constraints (emu refuses an unsignalled work
// request or a list of more than 2 entries at post, as EFA does): a striped write, a
// paged write whose runs need lists, a notification and a message all arrive whole.
TEST(EngineOnEfa, EveryTransferKindKeepsWithinEfaConstraints) {
  for (emu::Mode mode : {emu::Mode::kFast, emu::Mode::kDeterministic}) {
    WorldOptions o;
    o.kind = EndpointKind::kSrd;
    o.rail_gbps = {100, 100};
    o.bytes = 4 << 20;
    emu::FabricConfig fc;
    fc.mode = mode;
    fc.nodes = 2;
    emu::NicConfig efa;
    efa.efa_constraints = true;
    fc.nics = {efa, efa};
    World w(o, std::make_unique<emu::Fabric>(fc));
    w.fill(0, 0, o.bytes, 8);
    int notified = 0, messages = 0;
    ASSERT_TRUE(w.engine(1).expect("rank0", 3, 3, [&](const TransferResult& r) { notified += r.ok(); }).ok());
    w.engine(1).on_message([&](const std::string&, std::span<const uint8_t> bytes) {
      messages += bytes.size() == 3 && bytes[0] == 'e' && bytes[1] == 'f' && bytes[2] == 'a';
    });
    std::vector<Outcome> out(4);
    // Striped over both rails, then its notification.
    ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 2 << 20, w.regions[0][1], 0, Notify{3, 0},
                                  out[0].callback()).ok());
    // Source pages 0, 2, 4, ... to destination pages 0, 1, 2, ...: contiguous on the
    // target, so a run would gather several source pages into one list.
    constexpr uint64_t kPage = 4096;
    std::vector<uint32_t> src_pages, dst_pages;
    for (uint32_t i = 0; i < 64; ++i) {
      src_pages.push_back(512 + 2 * i);
      dst_pages.push_back(512 + i);
    }
    PagedTransfer pages{src_pages, dst_pages, kPage, w.buffers[0].data(), kPage, w.regions[0][1], 0, kPage};
    ASSERT_TRUE(w.engine(0).write_paged("rank1", pages, Notify{3, 1}, out[1].callback()).ok());
    ASSERT_TRUE(w.engine(0).notify("rank1", Notify{3, 2}, out[2].callback()).ok());
    const uint8_t text[] = {'e', 'f', 'a'};
    ASSERT_TRUE(w.engine(0).send_message("rank1", text, out[3].callback()).ok());
    ASSERT_TRUE(w.cluster.run_until([&] {
      return std::all_of(out.begin(), out.end(), [](const Outcome& x) { return x.done(); }) && notified == 1 &&
             messages == 1;
    }));
    for (const Outcome& x : out) {
      EXPECT_TRUE(x.result.ok()) << x.result.error().message;
      EXPECT_EQ(x.calls, 1);
    }
    EXPECT_TRUE(w.holds(1, 0, 0, 0, 2 << 20, 8));
    for (size_t i = 0; i < src_pages.size(); ++i) {
      EXPECT_TRUE(w.holds(1, dst_pages[i] * kPage, 0, src_pages[i] * kPage, kPage, 8)) << "page " << i;
    }
    EXPECT_EQ(w.engine(0).stats().transfers_failed, 0u);
    EXPECT_EQ(w.engine(0).stats().rails[0].failovers + w.engine(0).stats().rails[1].failovers, 0u);
  }
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// Striping starts at the threshold: a write or a contiguous paged write of 512 KiB on two
// rails goes out as one piece per rail, each rail's NIC carrying half; 256 KiB (the
// threshold) stays one piece on one rail.
TEST(EngineStriping, FromTheThresholdEveryRailCarriesAShare) {
  WorldOptions o;
  o.rail_gbps = {100, 100};
  o.bytes = 2 << 20;
  World w(o);
  constexpr uint64_t kHalfMiB = 512 << 10;
  w.fill(0, 0, o.bytes, 4);
  auto tx_bytes = [&](uint32_t nic) { return w.cluster.fabric().nic_counters(0, nic).value().tx_bytes; };

  Outcome at_threshold;
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 256 << 10, w.regions[0][1], 0, std::nullopt,
                                at_threshold.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return at_threshold.done(); }));
  ASSERT_TRUE(at_threshold.result.ok()) << at_threshold.result.error().message;
  EngineStats stats = w.engine(0).stats();
  EXPECT_EQ(stats.rails[0].operations + stats.rails[1].operations, 1u) << "one piece on one rail";
  const uint64_t before[2] = {tx_bytes(0), tx_bytes(1)};
  const TransferCounters rails_before[2] = {stats.rails[0], stats.rails[1]};

  Outcome write;
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), kHalfMiB, w.regions[0][1], 0, std::nullopt,
                                write.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return write.done(); }));
  ASSERT_TRUE(write.result.ok()) << write.result.error().message;
  EXPECT_TRUE(w.holds(1, 0, 0, 0, kHalfMiB, 4));
  stats = w.engine(0).stats();
  for (uint32_t r = 0; r < 2; ++r) {
    EXPECT_EQ(stats.rails[r].operations - rails_before[r].operations, 1u) << "rail " << r;
    EXPECT_EQ(stats.rails[r].bytes - rails_before[r].bytes, kHalfMiB / 2) << "rail " << r;
    EXPECT_GE(tx_bytes(r) - before[r], kHalfMiB / 2) << "NIC " << r << " of node 0";
  }

  // 128 pages of 4 KiB, contiguous on both sides: the plan would merge them into one
  // write; striping cuts it into one per rail.
  std::vector<uint32_t> src(128), dst(128);
  std::iota(src.begin(), src.end(), 0u);
  std::iota(dst.begin(), dst.end(), 256u);
  PagedTransfer pages{src, dst, 4096, w.buffers[0].data(), 4096, w.regions[0][1], 0, 4096};
  const TransferCounters paged_before[2] = {stats.rails[0], stats.rails[1]};
  Outcome paged;
  ASSERT_TRUE(w.engine(0).write_paged("rank1", pages, std::nullopt, paged.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return paged.done(); }));
  ASSERT_TRUE(paged.result.ok()) << paged.result.error().message;
  EXPECT_TRUE(w.holds(1, 256 * 4096, 0, 0, kHalfMiB, 4));
  stats = w.engine(0).stats();
  for (uint32_t r = 0; r < 2; ++r) {
    EXPECT_EQ(stats.rails[r].bytes - paged_before[r].bytes, kHalfMiB / 2) << "rail " << r;
  }
}

}  // namespace
}  // namespace ferry::testing
