// Striping over unequal rails, failover when a rail dies, peers removed or vanished
// mid-transfer, and a seed sweep mixing loss, reordering and faults. Every byte verified.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "emu/fabric.h"
#include "transport/engine/testing/world.h"

namespace ferry::testing {
namespace {

WorldOptions deterministic(EndpointKind kind, std::vector<double> rails, size_t ranks = 2,
                           std::string provider = fabrics::kEmu) {
  WorldOptions o;
  o.provider = provider;
  o.kind = kind;
  o.rail_gbps = std::move(rails);
  o.ranks = ranks;
  o.bytes = 16 << 20;
  return o;
}

class EngineRails : public ::testing::TestWithParam<EndpointKind> {};

// 1, 2 and 4 rails of unequal rates: the data lands whole, every rail carries a share,
// and a faster rail carries more than a slower one.
void expect_striping_in_proportion(EndpointKind kind, const std::string& provider) {
  for (const std::vector<double>& rails :
       {std::vector<double>{100}, std::vector<double>{100, 50}, std::vector<double>{200, 100, 100, 50}}) {
    World w(deterministic(kind, rails, 2, provider));
    w.fill(0, 0, 16 << 20, 1);
    int notified = 0;
    ASSERT_TRUE(w.engine(1).expect("rank0", 1, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
    Outcome out;
    ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 16 << 20, w.regions[0][1], 0,
                                  Notify{1, 0}, out.callback()).ok());
    ASSERT_TRUE(w.cluster.run_until([&] { return out.done() && notified == 1; }));
    ASSERT_TRUE(out.result.ok()) << out.result.error().message;
    EXPECT_TRUE(w.holds(1, 0, 0, 0, 16 << 20, 1));
    const EngineStats stats = w.engine(0).stats();
    ASSERT_EQ(stats.rails.size(), rails.size());
    for (size_t r = 0; r < rails.size(); ++r) {
      EXPECT_GT(stats.rails[r].bytes, 0u) << rails.size() << " rails: rail " << r << " idle";
    }
    if (rails.size() == 4) {
      EXPECT_GT(stats.rails[0].bytes, stats.rails[3].bytes) << "200G rail carried less than 50G";
    }
  }
}

// Every rail to the peer dead: the transfer fails with an error that says so.
void expect_clear_error_when_every_rail_is_dead(EndpointKind kind, const std::string& provider) {
  World w(deterministic(kind, {100, 100}, 2, provider));
  ASSERT_TRUE(w.engine(0).notify("rank1", Notify{1, 0}, nullptr).ok());  // connect first
  ASSERT_TRUE(w.cluster.run_until([&] { return w.engine(0).peer_connected("rank1"); }));
  ferry::testing::kill_nic(w.cluster.fabric(), 1, 0);
  ferry::testing::kill_nic(w.cluster.fabric(), 1, 1);
  Outcome out;
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 4 << 20, w.regions[0][1], 0,
                                std::nullopt, out.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return out.done(); }));
  EXPECT_FALSE(out.result.ok());
  EXPECT_EQ(out.result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(out.result.error().message.find("no rail reaches peer 'rank1'"), std::string::npos) << out.result.error().message;
}

TEST_P(EngineRails, StripesLargeTransfersInProportionToRate) {
  expect_striping_in_proportion(GetParam(), fabrics::kEmu);
}

TEST_P(EngineRails, EveryRailDeadFailsWithAClearError) {
  expect_clear_error_when_every_rail_is_dead(GetParam(), fabrics::kEmu);
}

// The same, on fast mode's real time and immediate failures.
TEST_P(EngineRails, FastModeStripesInProportionToRate) {
  expect_striping_in_proportion(GetParam(), fabrics::kEmuFast);
}

TEST_P(EngineRails, FastModeEveryRailDeadFailsWithAClearError) {
  expect_clear_error_when_every_rail_is_dead(GetParam(), fabrics::kEmuFast);
}

TEST_P(EngineRails, SmallTransfersStayOnOneRail) {
  World w(deterministic(GetParam(), {100, 100}));
  w.fill(0, 0, 64 << 10, 2);
  Outcome out;
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 64 << 10, w.regions[0][1], 0,
                                std::nullopt, out.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return out.done(); }));
  const EngineStats stats = w.engine(0).stats();
  EXPECT_EQ(stats.rails[0].operations + stats.rails[1].operations, 1u);
}

// A rail's NIC dies while a striped transfer is on the wire: its pieces move to the
// survivors, the data lands whole, and the target counts the notification exactly once.
TEST_P(EngineRails, RailKilledMidTransferFailsOverExactlyOnce) {
  World w(deterministic(GetParam(), {100, 100, 100, 100}));
  w.fill(0, 0, 16 << 20, 3);
  int notified = 0;
  ASSERT_TRUE(w.engine(1).expect("rank0", 4, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
  Outcome out;
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 16 << 20, w.regions[0][1], 0,
                                Notify{4, 0}, out.callback()).ok());
  // Connect first, then kill rail 1 of the sender a little into the transfer.
  ASSERT_TRUE(w.cluster.run_until([&] { return w.engine(0).peer_connected("rank1"); }));
  const uint64_t kill_at = w.cluster.fabric().now_ns() + 100'000;
  w.cluster.fabric().at(kill_at, [&] { ferry::testing::kill_nic(w.cluster.fabric(), 0, 1); });
  ASSERT_TRUE(w.cluster.run_until([&] { return out.done() && notified == 1; }));
  ASSERT_TRUE(out.result.ok()) << out.result.error().message;
  EXPECT_TRUE(w.holds(1, 0, 0, 0, 16 << 20, 3));
  const EngineStats stats = w.engine(0).stats();
  EXPECT_GE(stats.rails[1].failovers, 1u);
  EXPECT_GE(stats.peers.at("rank1").retries, 1u);
  w.linger();
  EXPECT_EQ(out.calls, 1);
  EXPECT_EQ(notified, 1);
  EXPECT_EQ(w.notifications(1, 0), 1u);
}

// A NIC of one node died after the two connected: either node registers new memory on
// its live rail, and a striped write between the new buffers lands whole. The write never
// takes the dead rail, where one end is not registered.
TEST_P(EngineRails, MemoryRegisteredAfterANicDiedCarriesTransfers) {
  constexpr uint64_t kBytes = 4 << 20;
  for (uint32_t dead_node : {0u, 1u}) {
    SCOPED_TRACE("NIC 1 of rank" + std::to_string(dead_node) + " dead");
    World w(deterministic(GetParam(), {100, 100}));
    ASSERT_TRUE(w.engine(0).notify("rank1", Notify{1, 0}, nullptr).ok());  // connect first
    ASSERT_TRUE(w.cluster.run_until([&] { return w.engine(0).peer_connected("rank1"); }));
    ferry::testing::kill_nic(w.cluster.fabric(), dead_node, 1);

    std::vector<uint8_t> src(kBytes), dst(kBytes, 0);
    for (uint64_t i = 0; i < kBytes; ++i) src[i] = pattern_byte(0, 7, i);
    auto src_reg = w.engine(0).register_memory(src.data(), src.size());
    ASSERT_TRUE(src_reg.ok()) << src_reg.error().to_string();
    auto dst_reg = w.engine(1).register_memory(dst.data(), dst.size());
    ASSERT_TRUE(dst_reg.ok()) << dst_reg.error().to_string();
    EXPECT_FALSE((dead_node == 0 ? *src_reg : *dst_reg)->has_rail(1));
    EXPECT_TRUE((dead_node == 0 ? *dst_reg : *src_reg)->has_rail(1));
    auto dst_region = w.engine(0).import_region("rank1", (*dst_reg)->descriptor().serialize());
    ASSERT_TRUE(dst_region.ok()) << dst_region.error().to_string();

    const uint64_t rail1_before = w.engine(0).stats().rails[1].bytes;
    int notified = 0;
    ASSERT_TRUE(w.engine(1).expect("rank0", 2, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
    Outcome out;
    ASSERT_TRUE(w.engine(0).write("rank1", src.data(), kBytes, *dst_region, 0, Notify{2, 0}, out.callback()).ok());
    ASSERT_TRUE(w.cluster.run_until([&] { return out.done() && notified == 1; }));
    ASSERT_TRUE(out.result.ok()) << out.result.error().message;
    EXPECT_EQ(dst, src) << "the write did not land whole";
    EXPECT_EQ(w.engine(0).stats().rails[1].bytes, rail1_before) << "a piece took the dead rail";
  }
}

// A NIC of rank0 died before the two ever connected: whichever side connects first, the
// connection comes up on the live rail, both sides keep the dead one down, and writes
// both ways land whole.
TEST_P(EngineRails, PeerConnectedAfterANicDiedIsReachedOnTheLiveRail) {
  constexpr uint64_t kBytes = 4 << 20;
  for (uint32_t first : {0u, 1u}) {
    SCOPED_TRACE("rank" + std::to_string(first) + " connects");
    WorldOptions o = deterministic(GetParam(), {100, 100});
    o.bytes = 2 * kBytes;  // each rank's buffer: what it sends, then what it receives
    World w(o);
    ferry::testing::kill_nic(w.cluster.fabric(), 0, 1);
    w.fill(0, 0, kBytes, 5);
    w.fill(1, 0, kBytes, 6);
    for (uint32_t from : {first, 1 - first}) {
      const uint32_t to = 1 - from;
      Outcome out;
      ASSERT_TRUE(w.engine(from).write(rank_name(to), w.buffers[from].data(), kBytes, w.regions[from][to], kBytes,
                                       std::nullopt, out.callback()).ok());
      ASSERT_TRUE(w.cluster.run_until([&] { return out.done(); }));
      ASSERT_TRUE(out.result.ok()) << "rank" << from << " to rank" << to << ": " << out.result.error().message;
    }
    EXPECT_TRUE(w.engine(0).peer_connected("rank1"));
    EXPECT_TRUE(w.engine(1).peer_connected("rank0"));
    EXPECT_TRUE(w.holds(1, kBytes, 0, 0, kBytes, 5));
    EXPECT_TRUE(w.holds(0, kBytes, 1, 0, kBytes, 6));
    for (uint32_t rank : {0u, 1u}) {
      const EngineStats stats = w.engine(rank).stats();
      EXPECT_GE(stats.rails[0].bytes, kBytes) << "rank" << rank;
      EXPECT_EQ(stats.rails[1].bytes, 0u) << "rank" << rank << " used the rail dead at rank0";
      EXPECT_EQ(stats.rails[1].failovers, 0u) << "rank" << rank << " tried the rail dead at rank0";
    }
  }
}

// rank0 writes 4 KiB to rank1's first region: how it ended, or nullopt if it could not be
// posted or never ended.
std::optional<TransferResult> write_4k_to_rank1(World& w) {
  Outcome out;
  if (!w.engine(0).write("rank1", w.buffers[0].data(), 4096, w.regions[0][1], 0, std::nullopt, out.callback()).ok() ||
      !w.cluster.run_until([&] { return out.done(); })) {
    return std::nullopt;
  }
  return out.result;
}

// Every NIC of rank0 dead: registering there and connecting from there fail with errors
// that name each rail, without a crash or a hang; a peer with no live rail in common
// (rank0 lost NIC 1, rank1 NIC 0) fails to connect with an error that says so.
TEST_P(EngineRails, NoLiveRailFailsRegistrationAndConnectingClearly) {
  {
    World w(deterministic(GetParam(), {100, 100}));
    ferry::testing::kill_nic(w.cluster.fabric(), 0, 0);
    ferry::testing::kill_nic(w.cluster.fabric(), 0, 1);
    std::vector<uint8_t> more(4096);
    auto reg = w.engine(0).register_memory(more.data(), more.size());
    ASSERT_FALSE(reg.ok());
    EXPECT_EQ(reg.error().code, ErrorCode::kUnavailable);
    EXPECT_NE(reg.error().message.find("no rail can register the buffer (rail 0: emu:n0/nic0 is dead; "
                                       "rail 1: emu:n0/nic1 is dead)"),
              std::string::npos)
        << reg.error().message;
    const std::optional<TransferResult> ended = write_4k_to_rank1(w);
    ASSERT_TRUE(ended.has_value()) << "the write was refused or never ended";
    ASSERT_FALSE(ended->ok());
    EXPECT_EQ(ended->error().code, ErrorCode::kUnavailable);
    EXPECT_NE(ended->error().message.find("cannot open endpoints: unavailable: no rail can open an endpoint "
                                              "(rail 0: emu:n0/nic0 is dead; rail 1: emu:n0/nic1 is dead)"),
              std::string::npos)
        << ended->error().message;
    EXPECT_FALSE(w.engine(0).peer_connected("rank1"));
  }
  {
    World w(deterministic(GetParam(), {100, 100}));
    ferry::testing::kill_nic(w.cluster.fabric(), 0, 1);
    ferry::testing::kill_nic(w.cluster.fabric(), 1, 0);
    const std::optional<TransferResult> ended = write_4k_to_rank1(w);
    ASSERT_TRUE(ended.has_value()) << "the write was refused or never ended";
    ASSERT_FALSE(ended->ok());
    EXPECT_EQ(ended->error().code, ErrorCode::kUnavailable);
    EXPECT_NE(ended->error().message.find("no rail is live on both sides of peer 'rank1'"), std::string::npos)
        << ended->error().message;
    EXPECT_FALSE(w.engine(1).peer_connected("rank0"));
  }
}

// rank0 writes to rank1 and rank2; rank1 is removed mid-way. rank1's transfer fails at
// once with a clear error, rank2's completes untouched.
TEST_P(EngineRails, RemovedPeerFailsOnlyItsOwnTransfers) {
  World w(deterministic(GetParam(), {100}, 3));
  w.fill(0, 0, 8 << 20, 5);
  Outcome to1, to2;
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 8 << 20, w.regions[0][1], 0, std::nullopt, to1.callback()).ok());
  ASSERT_TRUE(w.engine(0).write("rank2", w.buffers[0].data(), 8 << 20, w.regions[0][2], 0, std::nullopt, to2.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] {
    return w.engine(0).peer_connected("rank1") && w.engine(0).peer_connected("rank2");
  }));
  for (int i = 0; i < 20; ++i) w.cluster.round();
  ASSERT_FALSE(to1.done());
  ASSERT_TRUE(w.engine(0).remove_peer("rank1").ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return to1.done() && to2.done(); }));
  EXPECT_FALSE(to1.result.ok());
  EXPECT_EQ(to1.result.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(to1.result.error().message.find("rank1"), std::string::npos);
  EXPECT_TRUE(to2.result.ok()) << to2.result.error().message;
  EXPECT_TRUE(w.holds(2, 0, 0, 0, 8 << 20, 5));
  EXPECT_FALSE(w.engine(0).write("rank1", w.buffers[0].data(), 8, w.regions[0][1], 0, std::nullopt, nullptr).ok());
}

// rank1's process vanishes: rank0's transfer to it ends with an error within its retry
// and deadline bounds (virtual time), and rank0's transfer to rank2 is unaffected.
TEST_P(EngineRails, VanishedPeerFailsWithinBoundedTime) {
  World w(deterministic(GetParam(), {100, 100}, 3));
  w.fill(0, 0, 8 << 20, 6);
  Outcome to1, to2;
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 8 << 20, w.regions[0][1], 0, std::nullopt, to1.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return w.engine(0).peer_connected("rank1"); }));
  const uint64_t vanished_at = w.cluster.fabric().now_ns();
  ferry::testing::vanish_node(w.cluster.fabric(), 1);
  ASSERT_TRUE(w.engine(0).write("rank2", w.buffers[0].data(), 8 << 20, w.regions[0][2], 0, std::nullopt, to2.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return to1.done() && to2.done(); }));
  EXPECT_FALSE(to1.result.ok());
  EXPECT_NE(to1.result.error().message.find("rank1"), std::string::npos) << to1.result.error().message;
  // Bounded by the engine's deadline (default 5 s), in fact by the retries.
  EXPECT_LE(w.cluster.fabric().now_ns() - vanished_at, 5'000'000'000u);
  EXPECT_TRUE(to2.result.ok()) << to2.result.error().message;
  EXPECT_TRUE(w.holds(2, 0, 0, 0, 8 << 20, 6));
}

TEST_P(EngineRails, DeadlineEndsATransferThatCannotFinish) {
  WorldOptions o = deterministic(GetParam(), {100});
  o.engine.transfer_timeout_ns = 50'000'000;  // 50 ms
  World w(o);
  // rank1 never answers the handshake: its exchange mailbox is gone.
  w.cluster.exchange().remove("rank1");
  Outcome out;
  ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data(), 4096, w.regions[0][1], 0, std::nullopt, out.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return out.done(); }));
  EXPECT_FALSE(out.result.ok());
  EXPECT_NE(out.result.error().message.find("rank1"), std::string::npos) << out.result.error().message;
}

// A rank waiting for notifications that never come is not stuck: its wait ends at the
// deadline, naming the peer, and frees the tag; removing the peer ends it at once.
TEST_P(EngineRails, WaitingForAPeerThatNeverSendsEnds) {
  WorldOptions o = deterministic(GetParam(), {100});
  o.engine.transfer_timeout_ns = 50'000'000;
  World w(o);
  Outcome waited;
  ASSERT_TRUE(w.engine(1).expect("rank0", 8, 2, waited.callback()).ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return waited.done(); }));
  EXPECT_FALSE(waited.result.ok());
  EXPECT_EQ(waited.result.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_NE(waited.result.error().message.find("rank0"), std::string::npos) << waited.result.error().message;

  Outcome again;  // the tag is free again
  ASSERT_TRUE(w.engine(1).expect("rank0", 8, 1, again.callback()).ok());
  ASSERT_TRUE(w.engine(1).remove_peer("rank0").ok());
  ASSERT_TRUE(w.cluster.run_until([&] { return again.done(); }));
  EXPECT_FALSE(again.result.ok());
  EXPECT_EQ(again.result.error().code, ErrorCode::kUnavailable);
  // Waiting on a removed peer is refused at once; adding it back makes it usable.
  auto refused = w.engine(1).expect("rank0", 9, 1, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  ASSERT_TRUE(w.engine(1).add_peer("rank0").ok());
  Outcome readded;
  EXPECT_TRUE(w.engine(1).expect("rank0", 9, 1, readded.callback()).ok());
}

emu::Fabric& emu_of(World& w) { return dynamic_cast<emu::Fabric&>(w.cluster.fabric()); }

// A stream of messages on one tag, as a collective sends them: write k+1 starts once
// write k completed, and the target waits for message k+1 once message k arrived. The
// first write lands but its acknowledgement is lost (or, on SRD, it is delivered
// twice): the sender resends it on the other rail. The target must see every message
// once, in order, each with its bytes in place when its wait ends.
void expect_stream_exactly_once(EndpointKind kind, bool lose_ack) {
  World w(deterministic(kind, {100, 100}));
  constexpr uint16_t kTag = 7;
  constexpr uint32_t kMessages = 4;
  constexpr uint64_t kBytes = 64 << 10;  // one piece each: the notification rides on it
  w.fill(0, 0, kMessages * kBytes, 9);
  if (lose_ack) {
    emu_of(w).lose_acks(0, 0, 1);
  } else {
    emu_of(w).duplicate_srd(0, 0, 1);
  }
  std::vector<int> received(kMessages, 0);
  uint32_t next_wait = 0;
  std::function<void()> wait_next = [&] {
    const uint32_t k = next_wait++;
    ASSERT_TRUE(w.engine(1).expect_index("rank0", Notify{kTag, static_cast<uint16_t>(k)}, [&, k](const TransferResult& r) {
      ASSERT_TRUE(r.ok()) << r.error().message;
      ++received[k];
      EXPECT_TRUE(w.holds(1, k * kBytes, 0, k * kBytes, kBytes, 9)) << "message " << k << " woke its wait early";
      if (k + 1 < kMessages) wait_next();
    }).ok());
  };
  wait_next();
  std::vector<int> done(kMessages, 0);
  std::function<void(uint32_t)> send = [&](uint32_t k) {
    ASSERT_TRUE(w.engine(0).write("rank1", w.buffers[0].data() + k * kBytes, kBytes, w.regions[0][1], k * kBytes,
                                  Notify{kTag, static_cast<uint16_t>(k)}, [&, k](const TransferResult& r) {
                                    EXPECT_TRUE(r.ok()) << r.error().message;
                                    ++done[k];
                                    if (k + 1 < kMessages) send(k + 1);
                                  }).ok());
  };
  send(0);
  ASSERT_TRUE(w.cluster.run_until([&] { return done[kMessages - 1] == 1 && received[kMessages - 1] == 1; }));
  w.linger();
  w.engine(1).release("rank0", kTag);
  for (uint32_t k = 0; k < kMessages; ++k) {
    EXPECT_EQ(done[k], 1) << "write " << k;
    EXPECT_EQ(received[k], 1) << "message " << k;
  }
  EXPECT_TRUE(w.holds(1, 0, 0, 0, kMessages * kBytes, 9));
  EXPECT_EQ(w.notifications(1, 0), kMessages);
  EXPECT_EQ(w.engine(1).stats().peers["rank0"].duplicates, 1u) << "the second copy was not recognised";
  if (lose_ack) {
    EXPECT_EQ(w.engine(0).stats().rails[0].failovers, 1u);
    EXPECT_GE(w.engine(0).stats().peers["rank1"].retries, 1u);
  }
}

TEST_P(EngineRails, LostAcknowledgementResendIsDeliveredOnce) { expect_stream_exactly_once(GetParam(), true); }

TEST(EngineSrd, DuplicateDeliveryIsDeliveredOnce) { expect_stream_exactly_once(EndpointKind::kSrd, false); }

// Many busy peers share a rail: rank 0 keeps every peer's send queue full (more writes
// than it holds), and the peers notify rank 0 meanwhile. Every peer's work requests and
// receive buffers have room in a completion queue, so nothing overflows: no rail goes
// down, every write lands.
TEST_P(EngineRails, ManyBusyPeersNeverOverflowACompletionQueue) {
  constexpr size_t kPeers = 40;
  constexpr uint32_t kWrites = 600;  // per peer, above the 512 a send queue holds
  constexpr uint64_t kBytes = 64;
  WorldOptions o = deterministic(GetParam(), {100}, kPeers + 1);
  o.bytes = kWrites * kBytes;
  World w(o);
  w.fill(0, 0, o.bytes, 11);
  uint32_t done = 0, failed = 0, notified = 0;
  for (size_t peer = 1; peer <= kPeers; ++peer) {
    ASSERT_TRUE(w.engine(0).expect(rank_name(peer), 12, 1, [&](const TransferResult& r) { r.ok() ? ++notified : ++failed; }).ok());
    ASSERT_TRUE(w.engine(peer).notify("rank0", Notify{12, 0}, nullptr).ok());
    for (uint32_t i = 0; i < kWrites; ++i) {
      ASSERT_TRUE(w.engine(0).write(rank_name(peer), w.buffers[0].data() + i * kBytes, kBytes, w.regions[0][peer],
                                    i * kBytes, std::nullopt, [&](const TransferResult& r) {
                                      EXPECT_TRUE(r.ok()) << r.error().message;
                                      r.ok() ? ++done : ++failed;
                                    }).ok());
    }
  }
  // Connected, rank 0 is busy elsewhere for 5 ms: nobody polls while every posted write
  // completes, so the completions wait in the queues.
  ASSERT_TRUE(w.cluster.run_until([&] {
    for (size_t peer = 1; peer <= kPeers; ++peer) {
      if (!w.engine(0).peer_connected(rank_name(peer))) return false;
    }
    return true;
  }));
  w.cluster.fabric().run_until(w.cluster.fabric().now_ns() + 5'000'000);
  ASSERT_TRUE(w.cluster.run_until([&] { return done + failed == kPeers * kWrites && notified + failed >= kPeers; }));
  EXPECT_EQ(failed, 0u);
  EXPECT_EQ(notified, kPeers);
  for (size_t peer = 1; peer <= kPeers; ++peer) EXPECT_TRUE(w.holds(peer, 0, 0, 0, o.bytes, 11)) << "peer " << peer;
  EXPECT_EQ(w.engine(0).stats().rails[0].failovers, 0u);
}

// A device whose first completion queue holds fewer entries than asked for, so that it
// overflows although the engine kept within the room it asked for.
class ShallowFirstQueue final : public Device {
 public:
  explicit ShallowFirstQueue(Device& inner) : inner_(inner) {}
  const DeviceAttributes& attributes() const override { return inner_.attributes(); }
  Result<std::unique_ptr<ProtectionDomain>> create_protection_domain() override {
    return inner_.create_protection_domain();
  }
  Result<std::unique_ptr<CompletionQueue>> create_completion_queue(uint32_t depth) override {
    return inner_.create_completion_queue(created_++ == 0 ? 16 : depth);
  }

 private:
  Device& inner_;
  uint32_t created_ = 0;
};

// Node 0 of the fabric with rail 0 shown through ShallowFirstQueue.
class ShallowRailZero final : public Provider {
 public:
  explicit ShallowRailZero(Provider& inner) : inner_(inner), rail0_(inner.device(0)) {}
  const char* name() const override { return inner_.name(); }
  size_t device_count() const override { return inner_.device_count(); }
  Device& device(size_t index) override { return index == 0 ? rail0_ : inner_.device(index); }
  const Clock& clock() const override { return inner_.clock(); }
  bool progress() override { return inner_.progress(); }

 private:
  Provider& inner_;
  ShallowFirstQueue rail0_;
};

// Rank 0 and `peers` other ranks, one engine each over an emu fabric, driven by this
// thread. Every rank has a buffer of `bytes` (rank 0's holds the pattern) and rank 0 has
// imported every peer's. With `shallow`, rank 0's rail 0 is seen through
// ShallowRailZero.
struct Star {
  Star(const emu::FabricConfig& fc, const EngineConfig& config, size_t bytes, bool shallow = false)
      : fabric(fc), node0(fabric.node(0)), memory(fc.nodes, std::vector<uint8_t>(bytes)), to(fc.nodes) {
    for (size_t r = 0; r < fc.nodes; ++r) {
      exchange.add(rank_name(r));
      Provider& provider = r == 0 && shallow ? static_cast<Provider&>(node0) : fabric.node(r);
      engines.push_back(std::make_unique<Engine>(rank_name(r), provider, exchange, config));
      EXPECT_TRUE(engines.back()->open().ok());
      if (r == 0) {
        for (size_t i = 0; i < bytes; ++i) memory[0][i] = pattern_byte(0, 13, i);
      }
      auto reg = engines[r]->register_memory(memory[r].data(), bytes);
      EXPECT_TRUE(reg.ok());
      if (r > 0 && reg.ok()) {
        auto region = engines[0]->import_region(rank_name(r), (*reg)->descriptor().serialize());
        EXPECT_TRUE(region.ok());
        if (region.ok()) to[r] = *region;
      }
    }
  }
  ~Star() { engines.clear(); }  // before the fabric

  bool run_until(const std::function<bool()>& done, size_t max_rounds = 10'000'000) {
    for (size_t i = 0; i < max_rounds && !done(); ++i) {
      bool any = false;
      for (auto& e : engines) any |= e->progress();
      if (!any && !fabric.step()) return done();
    }
    return done();
  }
  // Rank 0 connects to every peer, one after another (peer 1 first).
  bool connect_all() {
    for (size_t r = 1; r < engines.size(); ++r) {
      if (!engines[0]->notify(rank_name(r), Notify{1, 0}, nullptr).ok()) return false;
      if (!run_until([&] { return engines[0]->peer_connected(rank_name(r)); })) return false;
    }
    return true;
  }
  bool holds_pattern(size_t rank) const {
    for (size_t i = 0; i < memory[rank].size(); ++i) {
      if (memory[rank][i] != pattern_byte(0, 13, i)) return false;
    }
    return true;
  }

  emu::Fabric fabric;
  ShallowRailZero node0;
  InProcessExchange exchange;
  std::vector<std::unique_ptr<Engine>> engines;
  std::vector<std::vector<uint8_t>> memory;
  std::vector<RemoteRegion> to;
};

// A completion queue that overflows anyway (a device giving less than asked for): the
// peer whose endpoint reports to it fails over to the other rail at once, its writes
// all land, and the peer on another queue of the same rail is untouched.
TEST_P(EngineRails, OverflowedQueueFailsOverOnlyItsPeers) {
  emu::FabricConfig fc;
  fc.mode = emu::Mode::kDeterministic;
  fc.nodes = 3;
  fc.nics = {emu::NicConfig{}, emu::NicConfig{}};
  EngineConfig config = engine_config(deterministic(GetParam(), {100, 100}));
  config.cq_depth = 1;  // one queue per endpoint: each peer has its own
  constexpr uint32_t kWrites = 200;
  constexpr uint64_t kBytes = 128;
  Star star(fc, config, kWrites * kBytes, true);
  ASSERT_TRUE(star.connect_all());  // rank1 first: it gets the shallow queue
  std::vector<uint32_t> done(3, 0), failed(3, 0);
  for (size_t peer = 1; peer <= 2; ++peer) {
    for (uint32_t i = 0; i < kWrites; ++i) {
      ASSERT_TRUE(star.engines[0]->write(rank_name(peer), star.memory[0].data() + i * kBytes, kBytes, star.to[peer],
                                         i * kBytes, std::nullopt, [&, peer](const TransferResult& r) {
                                           EXPECT_TRUE(r.ok()) << r.error().message;
                                           ++(r.ok() ? done : failed)[peer];
                                         }).ok());
    }
  }
  // Nobody polls while the writes complete: the shallow queue overflows.
  star.fabric.run_until(star.fabric.now_ns() + 1'000'000);
  const uint64_t overflow_seen_at = star.fabric.now_ns();
  ASSERT_TRUE(star.run_until([&] { return done[1] + failed[1] + done[2] + failed[2] == 2 * kWrites; }));
  EXPECT_EQ(done[1], kWrites);
  EXPECT_EQ(done[2], kWrites);
  // At once, not at the transfers' deadline (virtual time).
  EXPECT_LT(star.fabric.now_ns() - overflow_seen_at, config.transfer_timeout_ns / 10);
  EXPECT_TRUE(star.holds_pattern(1));
  EXPECT_TRUE(star.holds_pattern(2));
  const EngineStats stats = star.engines[0]->stats();
  EXPECT_EQ(stats.peers.at("rank1").failovers, 1u);
  EXPECT_GE(stats.peers.at("rank1").retries, 1u);
  EXPECT_EQ(stats.peers.at("rank2").failovers, 0u);
  EXPECT_EQ(stats.peers.at("rank2").retries, 0u);
}

// 1,024 peers on one rail, each with writes completing and a notification landing
// while rank 0 is not polling: more completions at once than one queue of cq_depth
// holds, and none is lost.
TEST(EngineCompletionQueues, AThousandPeersNeverOverflowARail) {
  constexpr uint32_t kPeers = 1024;
  constexpr uint32_t kWrites = 8;
  constexpr uint64_t kBytes = 64;
  emu::FabricConfig fc;
  fc.mode = emu::Mode::kDeterministic;
  fc.nodes = kPeers + 1;
  EngineConfig config = engine_config(deterministic(EndpointKind::kRc, {100}));
  // Small control buffers keep 1,025 engines' memory small; the queues' room does not
  // depend on them.
  config.control_bytes = 64;
  config.control_slots = 4;
  Star star(fc, config, kWrites * kBytes);
  ASSERT_TRUE(star.connect_all());
  uint32_t done = 0, notified = 0;
  for (uint32_t peer = 1; peer <= kPeers; ++peer) {
    ASSERT_TRUE(star.engines[0]->expect(rank_name(peer), 12, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
    ASSERT_TRUE(star.engines[peer]->notify("rank0", Notify{12, 0}, nullptr).ok());
    for (uint32_t i = 0; i < kWrites; ++i) {
      ASSERT_TRUE(star.engines[0]->write(rank_name(peer), star.memory[0].data() + i * kBytes, kBytes, star.to[peer],
                                         i * kBytes, std::nullopt, [&](const TransferResult& r) {
                                           EXPECT_TRUE(r.ok()) << r.error().message;
                                           done += r.ok();
                                         }).ok());
    }
  }
  star.fabric.run_until(star.fabric.now_ns() + 5'000'000);  // nobody polls meanwhile
  ASSERT_TRUE(star.run_until([&] { return done == kPeers * kWrites && notified == kPeers; }));
  for (uint32_t peer = 1; peer <= kPeers; ++peer) ASSERT_TRUE(star.holds_pattern(peer)) << "peer " << peer;
  EXPECT_EQ(star.engines[0]->stats().rails[0].failovers, 0u);
  EXPECT_EQ(star.engines[0]->stats().transfers_failed, 0u);
}

INSTANTIATE_TEST_SUITE_P(Kinds, EngineRails, ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// Hundreds of seeds (FERRY_SEED_SWEEP=N for more): loss, SRD reordering and, every
// fourth seed, the rail that carries the transfers killed at a seed-chosen time while
// they are on the wire, which must make the engines fail over; every byte verified,
// every notification exactly once, and the same seed twice gives the same trace.
uint64_t run_mixed(uint64_t seed, bool* ok) {
  WorldOptions o;
  o.seed = seed;
  o.kind = seed % 2 ? EndpointKind::kSrd : EndpointKind::kRc;
  o.rail_gbps = {100, 50};
  o.ranks = 3;
  o.bytes = 2 << 20;
  o.loss = (seed % 3) * 1e-4;
  World w(o);
  for (size_t r = 0; r < 3; ++r) w.fill(r, 0, o.bytes, seed);
  int notified = 0, done = 0, failed = 0;
  const bool kill = seed % 4 == 0;
  for (size_t src = 0; src < 3; ++src) {
    const size_t dst = (src + 1) % 3;
    EXPECT_TRUE(w.engine(dst).expect(rank_name(src), 1, 1, [&](const TransferResult& r) { notified += r.ok(); }).ok());
    // Each rank sends its first MiB to the next rank's second MiB.
    EXPECT_TRUE(w.engine(src).write(rank_name(dst), w.buffers[src].data(), 1 << 20, w.regions[src][dst], 1 << 20,
                                    Notify{1, 0}, [&](const TransferResult& r) { r.ok() ? ++done : ++failed; }).ok());
  }
  if (kill) {
    // Rail 0, the faster, is where each single-piece transfer goes first; once the
    // ranks are connected a MiB takes 84 us on it, so the kill lands while it moves.
    EXPECT_TRUE(w.cluster.run_until([&] {
      for (size_t src = 0; src < 3; ++src) {
        if (!w.engine(src).peer_connected(rank_name((src + 1) % 3))) return false;
      }
      return true;
    }));
    w.cluster.fabric().at(w.cluster.fabric().now_ns() + seed % 7 * 10'000,
                          [&] { ferry::testing::kill_nic(w.cluster.fabric(), static_cast<uint32_t>(seed % 3), 0); });
  }
  *ok = w.cluster.run_until([&] { return done + failed == 3 && notified == 3; });
  EXPECT_TRUE(*ok) << "seed " << seed;
  EXPECT_EQ(failed, 0) << "seed " << seed;
  for (size_t src = 0; src < 3; ++src) {
    EXPECT_TRUE(w.holds((src + 1) % 3, 1 << 20, src, 0, 1 << 20, seed)) << "seed " << seed;
  }
  w.linger(100);
  // Pieces resubmitted on another rail: a rail declared down that carried nothing
  // would not count.
  uint64_t resent = 0;
  for (size_t r = 0; r < 3; ++r) resent += w.engine(r).stats().peers[rank_name((r + 1) % 3)].retries;
  if (kill) {
    EXPECT_GE(resent, 1u) << "seed " << seed << ": no transfer failed over";
  } else {
    EXPECT_EQ(resent, 0u) << "seed " << seed;
  }
  EXPECT_EQ(notified, 3) << "seed " << seed;
  EXPECT_EQ(done, 3) << "seed " << seed;
  for (size_t src = 0; src < 3; ++src) {
    EXPECT_EQ(w.notifications((src + 1) % 3, src), 1u) << "seed " << seed;
  }
  return w.cluster.fabric().trace_hash();
}

TEST(EngineSeedSweep, MixedFaultsVerifyAndRepeat) {
  const char* env = std::getenv("FERRY_SEED_SWEEP");
  const uint64_t seeds = env ? std::strtoull(env, nullptr, 10) : 200;
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    bool ok = false;
    const uint64_t first = run_mixed(seed, &ok);
    if (!ok || ::testing::Test::HasFailure()) break;
    if (seed % 10 == 1) {
      bool again_ok = false;
      EXPECT_EQ(run_mixed(seed, &again_ok), first) << "seed " << seed << " is not deterministic";
    }
  }
}

}  // namespace
}  // namespace ferry::testing
