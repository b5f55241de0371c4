// Engines on real threads over emu's fast mode: each engine driven by its own thread, as
// on real hardware. Run under ThreadSanitizer (tag "threads").
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "transport/engine/testing/world.h"

namespace ferry::testing {
namespace {

class EngineThreads : public ::testing::TestWithParam<EndpointKind> {};

// Every rank writes its buffer's first quarter into each other rank's slot, with a
// notification, and waits for the three that come to it. Bytes verified afterwards.
TEST_P(EngineThreads, RanksOnTheirOwnThreadsExchangeData) {
  WorldOptions o;
  o.provider = fabrics::kEmuFast;
  o.kind = GetParam();
  o.ranks = 4;
  o.rail_gbps = {100, 100};
  o.bytes = 4 << 20;
  World w(o);
  constexpr uint64_t kSlot = 1 << 20;
  for (size_t r = 0; r < 4; ++r) w.fill(r, 0, kSlot, 9);

  std::atomic<int> failures{0};
  auto rank_main = [&](size_t me) {
    Engine& engine = w.engine(me);
    int arrived = 0, sent = 0;
    for (size_t peer = 0; peer < 4; ++peer) {
      if (peer == me) continue;
      if (!engine.expect(rank_name(peer), 1, 1, [&](const TransferResult& r) { arrived += r.ok(); }).ok()) ++failures;
      // Rank `me` lands in slot `me` of the peer (slots 1..3 hold data from others).
      auto id = engine.write(rank_name(peer), w.buffers[me].data(), kSlot, w.regions[me][peer],
                             ((me + 4 - peer) % 4) * kSlot,
                             Notify{1, 0}, [&](const TransferResult& r) { r.ok() ? ++sent : ++failures; });
      if (!id.ok()) ++failures;
    }
    // Bounded: a bug fails the test instead of hanging it.
    for (long spin = 0; spin < 200'000'000 && (arrived < 3 || sent < 3) && failures == 0; ++spin) {
      engine.progress();
    }
    if (arrived != 3 || sent != 3) ++failures;
    // Keep answering peers still finishing with us.
    for (int i = 0; i < 10000; ++i) engine.progress();
  };
  std::vector<std::thread> threads;
  for (size_t r = 0; r < 4; ++r) threads.emplace_back(rank_main, r);
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  for (size_t dst = 0; dst < 4; ++dst) {
    for (size_t src = 0; src < 4; ++src) {
      if (src == dst) continue;
      EXPECT_TRUE(w.holds(dst, ((src + 4 - dst) % 4) * kSlot, src, 0, kSlot, 9)) << src << "->" << dst;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, EngineThreads, ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
}  // namespace ferry::testing
