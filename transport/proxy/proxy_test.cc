// The proxy over emu's fast mode (real time, real threads): host threads stand in for
// kernels and write descriptors through the same ring API; a second proxy without
// channels drives the target's engine. Every byte is checked on the target. Run under
// TSan too (tag "threads").
#include "transport/proxy/proxy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

#include "transport/engine/testing/world.h"

namespace ferry::proxy {
namespace {

using ferry::testing::World;
using ferry::testing::WorldOptions;

WorldOptions fast(uint64_t bytes, double gbps = 100) {
  WorldOptions o;
  o.provider = fabrics::kEmuFast;
  o.ranks = 2;
  o.bytes = bytes;
  o.rail_gbps = {gbps};
  return o;
}

std::unique_ptr<Channel> channel(uint32_t capacity, uint64_t timeout_ns = 20'000'000'000) {
  ChannelOptions o;
  o.capacity = capacity;
  o.signals = 4;
  o.timeout_ns = timeout_ns;
  auto made = Channel::create(o);
  EXPECT_TRUE(made.ok()) << made.error().to_string();
  return std::move(made).value();
}

// Rank 0's proxy: its buffer is the local window, rank 1's buffer the only peer's window
// (rank 0 itself is no peer).
ProxyConfig config(World& w) {
  ProxyConfig c;
  c.local_window = w.buffers[0].data();
  c.local_bytes = w.buffers[0].size();
  c.peers = {PeerWindow{}, PeerWindow{rank_name(1), w.regions[0][1], w.buffers[1].size()}};
  return c;
}

// Drives an engine handed back by its proxy until done() holds, for at most 20 s.
template <typename Done>
void drive_until(Engine& engine, Done done) {
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       !done() && std::chrono::steady_clock::now() < end;) {
    engine.progress();
  }
}

// Notifications from rank 0 counted by rank 1 (they land after the writes' acknowledgements).
uint64_t notifications_at_target(World& w, uint64_t want) {
  drive_until(w.engine(1), [&] { return w.notifications(1, 0) >= want; });
  return w.notifications(1, 0);
}

// Rank 0 sends through `proxy`; a proxy without channels drives rank 1's engine.
struct Pair {
  explicit Pair(World& w) : source(w.engine(0), config(w)), target(w.engine(1), ProxyConfig{}) {}
  void start(Channel& ch) {
    ASSERT_TRUE(source.add_channel(ch).ok());
    ASSERT_TRUE(target.start().ok());
    ASSERT_TRUE(source.start().ok());
  }
  Proxy source;
  Proxy target;
};

TEST(Proxy, ProducerThreadsMoveEveryByte) {
  constexpr uint32_t kProducers = 3;
  constexpr uint64_t kShare = 1 << 20;
  World w(fast(kProducers * kShare));
  w.fill(0, 0, kProducers * kShare, 1);
  auto ch = channel(256);
  Pair p(w);
  p.start(*ch);
  const Context c = ch->context();
  std::vector<std::thread> producers;
  for (uint32_t me = 0; me < kProducers; ++me) {
    producers.emplace_back([c, me] {
      // Puts of many sizes cover this producer's share; quiet; then a signal on its own
      // counter (the peer counts the notification).
      const uint64_t sizes[] = {1, 4097, 65536, 3, 100'000, 511};
      uint64_t at = me * kShare, end = (me + 1) * kShare;
      for (size_t i = 0; at < end; ++i) {
        const uint64_t n = std::min(sizes[i % 6], end - at);
        ASSERT_EQ(put(c, 1, at, at, n), Status::kOk);
        at += n;
      }
      ASSERT_EQ(quiet(c), Status::kOk);
      ASSERT_EQ(signal(c, 1, me, 5), Status::kOk);
      ASSERT_EQ(wait(c, me, 5), Status::kOk);
    });
  }
  for (auto& t : producers) t.join();
  p.source.stop();
  p.target.stop();
  EXPECT_TRUE(w.holds(1, 0, 0, 0, kProducers * kShare, 1));
  EXPECT_EQ(ch->status(), Status::kOk);
  EXPECT_TRUE(p.source.errors().empty());
  for (uint32_t me = 0; me < kProducers; ++me) EXPECT_EQ(ch->counter(me), 5u);
  EXPECT_EQ(ch->completed(), p.source.stats().taken);
  EXPECT_EQ(p.source.stats().failed, 0u);
  EXPECT_EQ(notifications_at_target(w, kProducers), kProducers);
}

TEST(Proxy, PutSignalCountsOnBothSides) {
  World w(fast(1 << 20));
  w.fill(0, 0, 1 << 20, 2);
  auto ch = channel(64);
  Pair p(w);
  p.start(*ch);
  const Context c = ch->context();
  constexpr uint64_t kBlock = 64 << 10;
  for (uint64_t b = 0; b < 16; ++b) {
    ASSERT_EQ(put_signal(c, 1, b * kBlock, (15 - b) * kBlock, kBlock, 2), Status::kOk);
  }
  ASSERT_EQ(wait(c, 2, 16), Status::kOk);
  p.source.stop();
  p.target.stop();
  for (uint64_t b = 0; b < 16; ++b) EXPECT_TRUE(w.holds(1, (15 - b) * kBlock, 0, b * kBlock, kBlock, 2)) << b;
  EXPECT_EQ(ch->counter(2), 16u);
  EXPECT_EQ(notifications_at_target(w, 16), 16u);  // tag signal_tag + 2, indices 0..15
}

TEST(Proxy, ATinyRingHoldsProducersBackUntilTheProxyFreesSlots) {
  World w(fast(2 << 20));
  w.fill(0, 0, 2 << 20, 3);
  auto ch = channel(2);
  Pair p(w);
  p.start(*ch);
  const Context c = ch->context();
  constexpr uint64_t kPiece = 4096;
  for (uint64_t at = 0; at < (2 << 20); at += kPiece) ASSERT_EQ(put(c, 1, at, at, kPiece), Status::kOk);
  ASSERT_EQ(quiet(c), Status::kOk);
  p.source.stop();
  p.target.stop();
  EXPECT_TRUE(w.holds(1, 0, 0, 0, 2 << 20, 3));
  EXPECT_EQ(p.source.stats().taken, (2u << 20) / kPiece);
}

TEST(Proxy, BadDescriptorsSetTheStatusWordAndTheErrorList) {
  World w(fast(1 << 20));
  w.fill(0, 0, 1 << 20, 4);
  auto ch = channel(16);
  Pair p(w);
  p.start(*ch);
  const Context c = ch->context();
  const uint64_t window = 1 << 20;
  ASSERT_EQ(put(c, 5, 0, 0, 8), Status::kOk);                 // no rank 5
  ASSERT_EQ(put(c, 0, 0, 0, 8), Status::kOk);                 // rank 0 is no peer (itself)
  ASSERT_EQ(put(c, 1, window - 4, 0, 8), Status::kOk);        // past the local window
  ASSERT_EQ(put(c, 1, 0, UINT64_MAX - 2, 8), Status::kOk);    // remote offset overflowing
  ASSERT_EQ(put_signal(c, 1, 0, 0, 8, 99), Status::kOk);      // no signal 99
  ASSERT_EQ(put(c, 1, 0, 0, 0), Status::kOk);                 // nothing to put
  ASSERT_EQ(put_signal(c, 1, 64, 64, 64, 1), Status::kOk);    // a good one still goes
  // Quiet reports the first error; a wait ends at once with it.
  EXPECT_EQ(quiet(c), Status::kUnknownPeer);
  EXPECT_EQ(wait(c, 1, 1000), Status::kUnknownPeer);
  EXPECT_EQ(ch->completed(), 7u);
  p.source.stop();
  p.target.stop();
  EXPECT_EQ(ch->counter(1), 1u);
  EXPECT_TRUE(w.holds(1, 64, 0, 64, 64, 4));
  const std::vector<ProxyError> errors = p.source.errors();
  const Status want[] = {Status::kUnknownPeer, Status::kUnknownPeer, Status::kOutOfWindow,
                         Status::kOutOfWindow, Status::kBadDescriptor, Status::kBadDescriptor};
  ASSERT_EQ(errors.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(errors[i].status, want[i]) << i << ": " << errors[i].error.to_string();
    EXPECT_EQ(errors[i].ticket, i);
    EXPECT_EQ(errors[i].channel, 0u);
    EXPECT_FALSE(errors[i].error.message.empty());
  }
  EXPECT_NE(errors[0].error.message.find("rank 5"), std::string::npos) << errors[0].error.message;
  EXPECT_NE(errors[4].error.message.find("signal 99"), std::string::npos) << errors[4].error.message;
  EXPECT_EQ(p.source.stats().failed, 6u);
  EXPECT_EQ(ch->status(), Status::kUnknownPeer);
}

TEST(Proxy, StopWithTransfersPendingEndsWithinItsBound) {
  // The target's engine is not driven yet, so nothing can connect: every put stays in
  // flight (or in the ring) when the stop comes.
  constexpr uint64_t kPuts = 64;
  World w(fast(kPuts << 16));
  w.fill(0, 0, kPuts << 16, 5);
  auto ch = channel(1024);
  Pair p(w);
  ASSERT_TRUE(p.source.add_channel(*ch).ok());
  ASSERT_TRUE(p.source.start().ok());
  const Context c = ch->context();
  for (uint64_t i = 0; i < kPuts; ++i) ASSERT_EQ(put(c, 1, i << 16, i << 16, 1 << 16), Status::kOk);
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
       p.source.stats().taken < kPuts / 2 && std::chrono::steady_clock::now() < end;) {
    std::this_thread::yield();
  }
  ASSERT_GE(p.source.stats().taken, kPuts / 2);
  const auto bound = std::chrono::milliseconds(50);
  const auto began = std::chrono::steady_clock::now();
  p.source.stop(bound);
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_GE(took, bound);  // it waited for the transfers in flight ...
  EXPECT_LT(took, bound + std::chrono::milliseconds(500));  // ... and no longer
  EXPECT_FALSE(p.source.running());
  EXPECT_LT(ch->completed(), kPuts);
  EXPECT_EQ(ch->status(), Status::kStopped);
  ASSERT_FALSE(p.source.errors().empty());
  EXPECT_EQ(p.source.errors().back().status, Status::kStopped);
  EXPECT_NE(p.source.errors().back().error.message.find("not done"), std::string::npos);
  EXPECT_EQ(wait(c, 0, 1), Status::kStopped);  // producers learn at once

  // The engine is the caller's again: with the target up, what was posted completes.
  ASSERT_TRUE(p.target.start().ok());
  drive_until(w.engine(0), [&] { return w.engine(0).transfers_in_flight() == 0; });
  EXPECT_EQ(w.engine(0).transfers_in_flight(), 0u);
  p.target.stop();
  const uint64_t posted = p.source.stats().taken;
  EXPECT_TRUE(w.holds(1, 0, 0, 0, posted << 16, 5));
}

TEST(Proxy, RefusesMisuseByName) {
  World w(fast(1 << 20));
  auto ch = channel(4);
  ProxyConfig cfg = config(w);
  cfg.signal_tag = 0xfffe;  // 4 signals do not fit above it
  Proxy proxy(w.engine(0), cfg);
  auto added = proxy.add_channel(*ch);
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.error().message.find("signals"), std::string::npos);
  ASSERT_TRUE(proxy.start().ok());
  EXPECT_FALSE(proxy.start().ok());
  EXPECT_FALSE(proxy.add_channel(*ch).ok());
  proxy.stop();
  EXPECT_TRUE(proxy.errors().empty());
}

}  // namespace
}  // namespace ferry::proxy
