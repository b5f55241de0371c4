// Workload-style code with coroutines over the engine: awaits read top to bottom, and
// run on the same one-thread progress loop as everything else.
#include "transport/engine/task.h"

#include <gtest/gtest.h>

#include "transport/engine/testing/world.h"

namespace ferry::testing {
namespace {

// rank0 writes 8 "layers" to rank1, each with its notification; rank1 waits for all of
// them, then answers with one write back. Both sides are coroutines.
Task<TransferResult> sender(World& w) {
  for (uint16_t layer = 0; layer < 8; ++layer) {
    TransferResult r = co_await transfer([&](TransferDone done) {
      return w.engine(0).write("rank1", w.buffers[0].data() + layer * 4096, 4096, w.regions[0][1],
                               layer * 4096, Notify{3, layer}, std::move(done));
    });
    if (!r.ok()) co_return r;
  }
  // Then wait for the reply's notification.
  co_return co_await arrival(w.engine(0), "rank1", 4, 1);
}

Task<TransferResult> receiver(World& w) {
  TransferResult arrived = co_await arrival(w.engine(1), "rank0", 3, 8);
  if (!arrived.ok()) co_return arrived;
  co_return co_await transfer([&](TransferDone done) {
    return w.engine(1).write("rank0", w.buffers[1].data() + 65536, 100, w.regions[1][0], 65536,
                             Notify{4, 0}, std::move(done));
  });
}

class EngineTasks : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineTasks, CoroutinesAwaitTransfersAndArrivals) {
  WorldOptions o;
  o.provider = GetParam();
  o.kind = EndpointKind::kSrd;
  World w(o);
  w.fill(0, 0, 8 * 4096, 1);
  w.fill(1, 65536, 100, 2);
  Task<TransferResult> rx = receiver(w);
  Task<TransferResult> tx = sender(w);
  rx.start();
  tx.start();
  ASSERT_TRUE(w.cluster.run_until([&] { return rx.done() && tx.done(); }));
  EXPECT_TRUE(rx.result().ok()) << rx.result().error().message;
  EXPECT_TRUE(tx.result().ok()) << tx.result().error().message;
  EXPECT_TRUE(w.holds(1, 0, 0, 0, 8 * 4096, 1));
  EXPECT_TRUE(w.holds(0, 65536, 1, 65536, 100, 2));
}

TEST_P(EngineTasks, ASynchronousRefusalResumesAtOnceWithTheError) {
  WorldOptions o;
  o.provider = GetParam();
  World w(o);
  auto bad = [&]() -> Task<TransferResult> {
    co_return co_await transfer([&](TransferDone done) {
      return w.engine(0).write("nobody", w.buffers[0].data(), 8, w.regions[0][1], 0, std::nullopt, std::move(done));
    });
  };
  Task<TransferResult> t = bad();
  t.start();
  ASSERT_TRUE(t.done());
  EXPECT_FALSE(t.result().ok());
  EXPECT_NE(t.result().error().message.find("nobody"), std::string::npos);
}

// The same coroutines on every virtual- and real-time fabric this process can build.
INSTANTIATE_TEST_SUITE_P(Providers, EngineTasks, ::testing::Values(fabrics::kEmuFast, fabrics::kEmu, fabrics::kSim),
                         [](const auto& info) { return provider_test_name(info.param); });

}  // namespace
}  // namespace ferry::testing
