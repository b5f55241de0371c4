// Deterministic mode's ports: each direction of a NIC is shared fairly by the operations
// crossing it (docs/emulator.md, "Arrival time"). Every figure here is virtual time.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "emu/test_util.h"

namespace ferry::emu::test {
namespace {

constexpr uint32_t kOpBytes = 256 << 10;
constexpr uint32_t kOps = 16;
constexpr double kLineGbps = 100;

// One stream of writes: `kOps` writes of `kOpBytes` from `from` to `to`, all posted at
// once, and when its last completion came.
struct Stream {
  uint32_t from = 0;
  uint32_t to = 0;
  Ep* ep = nullptr;
  size_t done = 0;
  uint64_t last_ns = 0;
};

class Ports : public ::testing::Test {
 protected:
  // `nodes` nodes of one 100 Gb/s NIC each.
  void build(uint32_t nodes) {
    world_ = std::make_unique<World>(fabric_config(Mode::kDeterministic, nodes));
    world_->fabric().run_until(10'000);  // any start time
  }

  Stream& add(uint32_t from, uint32_t to) {
    Stream& s = streams_.emplace_back();
    s.from = from;
    s.to = to;
    Ep& a = world_->endpoint(from, 0, endpoint_config(EndpointKind::kRc));
    Ep& b = world_->endpoint(to, 0, endpoint_config(EndpointKind::kRc));
    World::connect(a, b);
    s.ep = &a;
    return s;
  }

  // Posts every stream's writes at once and runs until all completed (bounded), sampling
  // the NIC counters every `sample_ns` for `check`.
  void run(const std::function<void(uint64_t dt_ns)>& check = nullptr, uint64_t sample_ns = 10'000) {
    start_ns_ = world_->fabric().now_ns();
    for (Stream& s : streams_) {
      Buffer& src = world_->source(s.from, size_t{kOpBytes} * kOps);
      Buffer& dst = world_->buffer(s.to, size_t{kOpBytes} * kOps);
      std::vector<Op> ops;
      for (uint32_t i = 0; i < kOps; ++i) ops.push_back(write_op(i, {src.sge(i * kOpBytes, kOpBytes)}, dst, i * kOpBytes));
      ASSERT_TRUE(is_ok(post(*s.ep, ops)));
    }
    Fabric& fabric = world_->fabric();
    uint64_t next_sample = start_ns_ + sample_ns;
    std::vector<Completion> slots(64);
    for (size_t step = 0; step < kMaxSteps; ++step) {
      bool all = true;
      for (Stream& s : streams_) {
        auto polled = s.ep->send_cq->poll(std::span<Completion>(slots));
        ASSERT_TRUE(polled.ok());
        for (size_t i = 0; i < *polled; ++i) ASSERT_EQ(slots[i].status, Status::kSuccess);
        if (*polled > 0) s.last_ns = fabric.now_ns();
        s.done += *polled;
        all = all && s.done == kOps;
      }
      if (all) return;
      if (check && fabric.now_ns() >= next_sample) {
        check(fabric.now_ns() - (next_sample - sample_ns));
        next_sample = fabric.now_ns() + sample_ns;
      }
      ASSERT_TRUE(fabric.step()) << "the fabric went idle before every write completed";
    }
    FAIL() << "the writes did not complete within " << kMaxSteps << " steps";
  }

  // A stream's throughput from the post to its last completion, in Gb/s.
  double gbps(const Stream& s) const {
    return static_cast<double>(kOpBytes) * kOps * 8.0 / static_cast<double>(s.last_ns - start_ns_);
  }

  std::unique_ptr<World> world_;
  std::deque<Stream> streams_;
  uint64_t start_ns_ = 0;
};

TEST_F(Ports, OneStreamGetsTheLineRate) {
  build(2);
  Stream& a = add(0, 1);
  run();
  EXPECT_NEAR(gbps(a), kLineGbps, 2);
}

TEST_F(Ports, TwoEndpointsOnOneNicGetHalfTheLineRateEach) {
  build(3);
  Stream& a = add(0, 1);
  Stream& b = add(0, 2);
  run();
  EXPECT_NEAR(gbps(a), kLineGbps / 2, 2);
  EXPECT_NEAR(gbps(b), kLineGbps / 2, 2);
}

TEST_F(Ports, IncastSharesTheReceiversPort) {
  build(3);
  Stream& a = add(0, 2);
  Stream& b = add(1, 2);
  run();
  EXPECT_NEAR(gbps(a), kLineGbps / 2, 2);
  EXPECT_NEAR(gbps(b), kLineGbps / 2, 2);
}

TEST_F(Ports, TheTwoDirectionsOfALinkAreIndependent) {
  build(2);
  Stream& a = add(0, 1);
  Stream& b = add(1, 0);
  run();
  EXPECT_NEAR(gbps(a), kLineGbps, 2);
  EXPECT_NEAR(gbps(b), kLineGbps, 2);
}

TEST_F(Ports, AStreamLimitedElsewhereLeavesItsShareUnused) {
  // 0 -> 2 and 1 -> 2 share node 2's receive port; 0 -> 1 shares node 0's transmit port
  // with the first. Each of the three gets half a port while all run (the model is not
  // max-min fair: see emu/wire.h).
  build(3);
  Stream& a = add(0, 2);
  Stream& b = add(1, 2);
  Stream& c = add(0, 1);
  run();
  for (Stream* s : {&a, &b, &c}) EXPECT_NEAR(gbps(*s), kLineGbps / 2, 2);
}

TEST_F(Ports, NoNicCountsMoreThanItsLineRate) {
  build(3);
  add(0, 2);
  add(1, 2);
  add(0, 1);
  add(2, 0);
  std::vector<NicCounters> last(3);
  uint64_t busiest = 0;
  run([&](uint64_t dt_ns) {
    for (uint32_t node = 0; node < 3; ++node) {
      const NicCounters now = world_->fabric().nic_counters(node, 0).value();
      // A byte of rounding per operation on the port, at most.
      const double line_bytes = kLineGbps / 8 * static_cast<double>(dt_ns) + 8;
      EXPECT_LE(static_cast<double>(now.tx_bytes - last[node].tx_bytes), line_bytes) << "node " << node << " tx";
      EXPECT_LE(static_cast<double>(now.rx_bytes - last[node].rx_bytes), line_bytes) << "node " << node << " rx";
      busiest = std::max(busiest, now.rx_bytes - last[node].rx_bytes);
      last[node] = now;
    }
  });
  EXPECT_GT(busiest, 0u);
  // Everything sent was counted once, on both ends.
  uint64_t tx = 0, rx = 0;
  for (uint32_t node = 0; node < 3; ++node) {
    tx += world_->fabric().nic_counters(node, 0).value().tx_bytes;
    rx += world_->fabric().nic_counters(node, 0).value().rx_bytes;
  }
  EXPECT_EQ(tx, uint64_t{4} * kOps * kOpBytes);
  EXPECT_EQ(rx, tx);
}

}  // namespace
}  // namespace ferry::emu::test
