// The model against closed forms, in virtual time:
//  - line rate: one large write over a 400 Gb/s path completes within 2% of
//    size / rate + RTT (the gap is the per-packet headers, 62 bytes per 4096);
//  - go-back-N under loss p: goodput within 10% of (1 - p) / (1 + (W - 1) p), where W is
//    the packets sent from the start of a lost packet to the start of its resend.
#include <cmath>

#include "sim/test_util.h"

namespace ferry::sim::test {
namespace {

// The completion time of one write of `bytes` from host 0 to host 1, from its post.
uint64_t write_time_ns(World& w, uint64_t bytes, const EndpointConfig& config) {
  Pair p = w.pair(config);
  BulkBuffer src(w.pd(0), bytes, 1), dst(w.pd(1), bytes, 2);
  const uint64_t start = w.sim().now_ns();
  Op write = make_op(Opcode::kWrite, 1, {src.sge(0, static_cast<uint32_t>(bytes))});
  write.wr.remote_addr = dst.addr();
  write.wr.rkey = dst.region->rkey();
  EXPECT_TRUE(is_ok(post(p.a, {write})));
  auto done = w.wait_send(p.a);
  EXPECT_EQ(done.size(), 1u);
  if (done.empty()) return 0;
  EXPECT_EQ(done[0].status, Status::kSuccess);
  EXPECT_TRUE(src.same_as(dst)) << "the bytes differ";
  return w.sim().now_ns() - start;
}

// One-way propagation, host 0 to host 1 through the switch, both directions.
uint64_t round_trip_ns(const Simulation& sim) {
  return 2 * (sim.link_delay_ns(LinkId::access(0, 0)) + sim.link_delay_ns(LinkId::access(1, 0)));
}

class LineRate : public ::testing::TestWithParam<std::tuple<Transport, uint64_t>> {};

TEST_P(LineRate, OneLargeWriteRunsAtTheLinkRate) {
  const auto [transport, bytes] = GetParam();
  World w(sim_config(transport));
  const uint64_t took = write_time_ns(w, bytes, endpoint_config(kind_of(transport)));
  const double ideal = static_cast<double>(bytes) * 8 / 400 + static_cast<double>(round_trip_ns(w.sim()));
  const double error = (static_cast<double>(took) - ideal) / ideal;
  RecordProperty("completion_ns", std::to_string(took));
  RecordProperty("ideal_ns", std::to_string(static_cast<uint64_t>(ideal)));
  EXPECT_GE(took, ideal) << "faster than the wire";
  EXPECT_LT(error, 0.02) << "took " << took << " ns, ideal " << ideal << " ns";
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, LineRate,
    ::testing::Combine(::testing::Values(Transport::kRoceRc, Transport::kSrd),
                       ::testing::Values(uint64_t{64} << 20, uint64_t{1} << 30)),
    [](const auto& info) {
      return std::string(transport_name(std::get<0>(info.param))) + "_" +
             std::to_string(std::get<1>(info.param) >> 20) + "MiB";
    });

TEST(GoBackN, GoodputUnderLossMatchesTheClosedForm) {
  constexpr double kLoss = 1e-3;
  constexpr uint64_t kDelayNs = 5'000;
  constexpr uint64_t kBytes = uint64_t{512} << 20;
  SimulationConfig c = sim_config(Transport::kRoceRc);
  c.access_link.delay_ns = kDelayNs;
  // Loss on the receiver's link only, both directions (data one way, ACKs and NAKs back).
  LinkConfig lossy = c.access_link;
  lossy.loss = kLoss;
  c.link_overrides.push_back({LinkId::access(1, 0), lossy});
  World w(c);
  EndpointConfig ec = endpoint_config(EndpointKind::kRc);
  ec.retry_timeout_ns = 200'000;  // a lost tail: 10 round trips
  const uint64_t took = write_time_ns(w, kBytes, ec);

  // Packet times: a full packet and a header-only NAK at 400 Gb/s.
  const double packet_ns = (4096.0 + 62) * 8 / 400;
  const double nak_ns = 62.0 * 8 / 400;
  // The lost packet and the next one reach the receiver (store and forward at the
  // switch), the NAK flies back, and the resend starts at the next packet boundary.
  const double window = 3 + std::ceil((4 * kDelayNs + 2 * nak_ns) / packet_ns);
  const double expected = (1 - kLoss) / (1 + (window - 1) * kLoss);
  const double ideal_ns = kBytes / 4096.0 * packet_ns + static_cast<double>(round_trip_ns(w.sim()));
  const double goodput = ideal_ns / static_cast<double>(took);
  RecordProperty("window_packets", std::to_string(window));
  RecordProperty("goodput", std::to_string(goodput));
  RecordProperty("expected", std::to_string(expected));
  EXPECT_NEAR(goodput, expected, 0.1 * expected)
      << "W " << window << ", lost " << w.sim().counters().packets_lost << ", resent "
      << w.sim().counters().retransmitted_packets;
  EXPECT_GT(w.sim().counters().naks_sent, 50u);
}

// Go-back-0 resends from the start of the message: the same bytes land, at the price of
// more resent packets than go-back-N.
TEST(GoBackZero, ResendsWholeMessagesAndStillDeliversEverything) {
  uint64_t resent[2] = {0, 0};
  for (bool zero : {false, true}) {
    SimulationConfig c = sim_config(Transport::kRoceRc);
    c.go_back_zero = zero;
    c.access_link.loss = 2e-3;
    World w(c);
    Pair p = w.pair();
    constexpr uint32_t kMessage = 256 << 10, kMessages = 32;
    Buffer& src = w.source(0, kMessage * kMessages);
    Buffer& dst = w.buffer(1, kMessage * kMessages);
    std::vector<Op> writes;
    for (uint32_t i = 0; i < kMessages; ++i) {
      writes.push_back(write_op(i, {src.sge(i * kMessage, kMessage)}, dst, i * kMessage));
    }
    ASSERT_TRUE(is_ok(post(p.a, writes)));
    auto done = w.wait_send(p.a, kMessages);
    ASSERT_EQ(done.size(), kMessages);
    for (const Completion& completion : done) EXPECT_EQ(completion.status, Status::kSuccess);
    EXPECT_TRUE(dst.holds(0, src, 0, kMessage * kMessages));
    resent[zero] = w.sim().counters().retransmitted_packets;
  }
  EXPECT_GT(resent[0], 0u);
  EXPECT_GT(resent[1], resent[0]);
}

}  // namespace
}  // namespace ferry::sim::test
