#include "hw_tests/lane.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "emu/fabric.h"

namespace ferry::qualify {
namespace {

emu::FabricConfig two_nodes(emu::Mode mode) {
  emu::FabricConfig c;
  c.mode = mode;
  c.nics.assign(1, emu::NicConfig{});
  return c;
}

// On a virtual-time provider the stamps are the clock's own: the median gap is exact.
TEST(RoundTimer, VirtualTimeGivesTheMedianGapExactly) {
  emu::Fabric fabric(two_nodes(emu::Mode::kDeterministic));
  Driver driver(fabric.node(0), fabric.node(1), 1'000'000'000);
  ASSERT_FALSE(driver.wall_time());
  RoundTimer timer(driver, 4);
  for (uint64_t gap : {1000, 5000, 3000, 2000}) {
    timer.stamp();
    fabric.run_until(fabric.now_ns() + gap);
  }
  timer.stamp();
  EXPECT_EQ(timer.median_ns(), 3000.0);  // gaps 1000, 2000, 3000, 5000: the upper middle
}

// On real time the stamps may come from the cycle counter, scaled to the clock over the
// run. Bounds that hold however loaded the machine: each gap is at least its sleep; and
// since three of five gaps are at least the median, three medians fit in the whole run.
TEST(RoundTimer, WallTimeGapsScaleToTheClock) {
  emu::Fabric fabric(two_nodes(emu::Mode::kFast));
  Driver driver(fabric.node(0), fabric.node(1), 1'000'000'000);
  ASSERT_TRUE(driver.wall_time());
  constexpr auto kSleep = std::chrono::milliseconds(4);
  const uint64_t start = driver.now();
  RoundTimer timer(driver, 5);
  for (int i = 0; i < 5; ++i) {
    timer.stamp();
    std::this_thread::sleep_for(kSleep);
  }
  timer.stamp();
  const double median = timer.median_ns();
  const uint64_t total = driver.now() - start;
  EXPECT_GE(median, 4e6);
  EXPECT_LE(3 * median, static_cast<double>(total));
}

TEST(RoundTimer, FewerThanTwoStampsHaveNoGap) {
  emu::Fabric fabric(two_nodes(emu::Mode::kDeterministic));
  Driver driver(fabric.node(0), fabric.node(1), 1'000'000'000);
  RoundTimer timer(driver, 1);
  EXPECT_EQ(timer.median_ns(), 0.0);
  timer.stamp();
  EXPECT_EQ(timer.median_ns(), 0.0);
}

// Lane buffers start on a page, as perftest's do.
TEST(Side, BufferIsPageAligned) {
  Side side;
  side.buffer.assign(12345, 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(side.buffer.data()) % 4096, 0u);
}

}  // namespace
}  // namespace ferry::qualify
