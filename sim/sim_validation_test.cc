// The model against closed forms, in virtual time:
//  - line rate: one large write over a 400 Gb/s path completes within 2% of
//    size / rate + RTT (the gap is the per-packet headers, 62 bytes per 4096);
//  - go-back-N under loss p (10^-4, 10^-3, 10^-2): goodput within 10% of
//    (1 - p) / (1 + (W - 1) p), where W is the packets sent from the start of a lost
//    packet to the start of its resend;
//  - go-back-0 with 4 MiB messages at 1/256 loss: the link busy, almost nothing delivered;
//  - SRD under the same loss rates: goodput near 1 - p (selective resends).
#include <cmath>
#include <cstring>

#include "sim/test_util.h"

namespace ferry::sim::test {
namespace {

// Posts `repeats` writes of one buffer of `bytes` from host 0 to host 1, back to back on
// one endpoint, and returns the time from the post to the last completion. Every write
// must succeed; they all carry the same bytes to the same place, and the destination is
// compared with the source once all have landed.
uint64_t stream_time_ns(World& w, uint64_t bytes, uint32_t repeats, const EndpointConfig& config) {
  Pair p = w.pair(config);
  BulkBuffer src(w.pd(0), bytes, 1), dst(w.pd(1), bytes, 2);
  const uint64_t start = w.sim().now_ns();
  const RunClock clock(w.sim());
  std::vector<Op> writes;
  for (uint32_t i = 0; i < repeats; ++i) {
    Op write = make_op(Opcode::kWrite, i, {src.sge(0, static_cast<uint32_t>(bytes))});
    write.wr.remote_addr = dst.addr();
    write.wr.rkey = dst.region->rkey();
    writes.push_back(write);
  }
  EXPECT_TRUE(is_ok(post(p.a, writes)));
  auto done = w.wait_send(p.a, repeats);
  record_run_times(clock);
  EXPECT_EQ(done.size(), repeats);
  if (done.size() != repeats) return 0;
  for (const Completion& completion : done) EXPECT_EQ(completion.status, Status::kSuccess);
  EXPECT_TRUE(src.same_as(dst)) << "the bytes differ";
  return w.sim().now_ns() - start;
}

uint64_t write_time_ns(World& w, uint64_t bytes, const EndpointConfig& config) {
  return stream_time_ns(w, bytes, 1, config);
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

// Wire time of a full packet and of a header-only one (ACK, NAK) at 400 Gb/s.
constexpr double kPacketNs = (4096.0 + 62) * 8 / 400;
constexpr double kHeaderNs = 62.0 * 8 / 400;

// A loss rate and a transfer long enough for about a hundred or more lost data packets,
// so that the measured goodput is a statistic, not the luck of a few losses: 10^-2 over
// 16 Ki packets (64 MiB), 10^-3 over 128 Ki packets (512 MiB), 10^-4 over 1 Mi packets
// (4 GiB: eight writes of one 512 MiB buffer, back to back, so memory stays at 1 GiB).
struct LossCase {
  double loss;
  uint64_t buffer_bytes;
  uint32_t repeats;
  uint64_t total_bytes() const { return buffer_bytes * repeats; }
};

std::string loss_case_name(const ::testing::TestParamInfo<LossCase>& info) {
  const double loss = info.param.loss;
  return loss >= 1e-2 ? "Loss1e2" : loss >= 1e-3 ? "Loss1e3" : "Loss1e4";
}

const auto kLossCases = ::testing::Values(LossCase{1e-4, uint64_t{512} << 20, 8},
                                          LossCase{1e-3, uint64_t{512} << 20, 1},
                                          LossCase{1e-2, uint64_t{64} << 20, 1});

// Loss on the receiver's link only, both directions (data one way, ACKs and NAKs back).
SimulationConfig lossy_config(Transport transport, double loss, uint64_t delay_ns) {
  SimulationConfig c = sim_config(transport);
  c.access_link.delay_ns = delay_ns;
  LinkConfig lossy = c.access_link;
  lossy.loss = loss;
  c.link_overrides.push_back({LinkId::access(1, 0), lossy});
  return c;
}

class GoBackN : public ::testing::TestWithParam<LossCase> {};

TEST_P(GoBackN, GoodputUnderLossMatchesTheClosedForm) {
  const LossCase param = GetParam();
  constexpr uint64_t kDelayNs = 5'000;
  World w(lossy_config(Transport::kRoceRc, param.loss, kDelayNs));
  EndpointConfig ec = endpoint_config(EndpointKind::kRc);
  ec.retry_timeout_ns = 200'000;  // a lost tail: 10 round trips
  const uint64_t took = stream_time_ns(w, param.buffer_bytes, param.repeats, ec);

  // The lost packet and the next one reach the receiver (store and forward at the
  // switch), the NAK flies back, and the resend starts at the next packet boundary.
  const double window = 3 + std::ceil((4 * kDelayNs + 2 * kHeaderNs) / kPacketNs);
  const double expected = (1 - param.loss) / (1 + (window - 1) * param.loss);
  const double ideal_ns =
      static_cast<double>(param.total_bytes()) / 4096.0 * kPacketNs + static_cast<double>(round_trip_ns(w.sim()));
  const double goodput = ideal_ns / static_cast<double>(took);
  const SimulationCounters counters = w.sim().counters();
  RecordProperty("window_packets", std::to_string(window));
  RecordProperty("goodput", std::to_string(goodput));
  RecordProperty("expected", std::to_string(expected));
  RecordProperty("packets_lost", std::to_string(counters.packets_lost));
  EXPECT_NEAR(goodput, expected, 0.1 * expected)
      << "W " << window << ", lost " << counters.packets_lost << ", resent " << counters.retransmitted_packets;
  // Enough losses for the figure to mean something (about 100 or more expected).
  EXPECT_GT(counters.naks_sent, 50u);
}

INSTANTIATE_TEST_SUITE_P(LossRates, GoBackN, kLossCases, loss_case_name);

// SRD resends only what was lost, and a loss holds one window slot for an RTO while the
// rest of the window keeps the link busy: goodput stays near 1 - p. A lost ACK costs a
// resend too (the loss is on both directions of the receiver's link), so the floor is
// (1 - p)^2, and a lost packet near the end adds an RTO (at least 10 us) to the
// completion time: the tolerance below 1 - p is 2p + 1 %, above it 0.5 %.
class SrdGoodput : public ::testing::TestWithParam<LossCase> {};

TEST_P(SrdGoodput, StaysNearOneMinusTheLossRate) {
  const LossCase param = GetParam();
  World w(lossy_config(Transport::kSrd, param.loss, 500));
  const uint64_t took = stream_time_ns(w, param.buffer_bytes, param.repeats, endpoint_config(EndpointKind::kSrd));
  const double ideal_ns =
      static_cast<double>(param.total_bytes()) / 4096.0 * kPacketNs + static_cast<double>(round_trip_ns(w.sim()));
  const double goodput = ideal_ns / static_cast<double>(took);
  const double expected = 1 - param.loss;
  const SimulationCounters counters = w.sim().counters();
  RecordProperty("goodput", std::to_string(goodput));
  RecordProperty("expected", std::to_string(expected));
  RecordProperty("packets_lost", std::to_string(counters.packets_lost));
  RecordProperty("retransmitted_packets", std::to_string(counters.retransmitted_packets));
  EXPECT_GT(goodput, expected - 2 * param.loss - 0.01) << "lost " << counters.packets_lost;
  EXPECT_LT(goodput, expected + 0.005) << "lost " << counters.packets_lost;
  // Selective: about one resend per loss, not a window's worth.
  EXPECT_GT(counters.retransmitted_packets, 0u);
  EXPECT_LT(counters.retransmitted_packets, 3 * counters.packets_lost + 10);
}

// SRD's goodput hardly depends on how many packets were lost, only on p (each loss
// costs one resend): shorter transfers than go-back-N's serve, about fifty losses (data
// and ACKs) over 1 GiB at 10^-4, more at the higher rates.
INSTANTIATE_TEST_SUITE_P(LossRates, SrdGoodput,
                         ::testing::Values(LossCase{1e-4, uint64_t{512} << 20, 2},
                                           LossCase{1e-3, uint64_t{256} << 20, 1},
                                           LossCase{1e-2, uint64_t{64} << 20, 1}),
                         loss_case_name);

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

// What a fixed stretch of virtual time gets through one lossy link, as fractions of the
// line rate: the data on the wire, and the application bytes delivered (writes that
// completed).
struct Window {
  double wire_utilisation = 0;
  double goodput = 0;
  uint64_t messages_delivered = 0;
  double wall_s = 0;  // to simulate the window
};

// 4 MiB writes, `messages` of them one after the other, over 5 us links that lose one
// packet in 256 (both directions of the receiver's link), for `window_ns` of virtual
// time. Every write that completed in the window is checked byte for byte; the rest are
// flushed afterwards.
Window run_window(bool go_back_zero, uint64_t window_ns, uint64_t messages) {
  constexpr double kLoss = 1.0 / 256;
  constexpr uint64_t kMessage = 4 << 20;
  SimulationConfig c = lossy_config(Transport::kRoceRc, kLoss, 5'000);
  c.go_back_zero = go_back_zero;
  World w(c);
  Pair p = w.pair(endpoint_config(EndpointKind::kRc));
  BulkBuffer src(w.pd(0), kMessage, 1), dst(w.pd(1), kMessage * messages, 2);
  std::vector<Op> writes;
  for (uint64_t i = 0; i < messages; ++i) {
    Op write = make_op(Opcode::kWrite, i, {src.sge(0, kMessage)});
    write.wr.remote_addr = dst.addr() + i * kMessage;
    write.wr.rkey = dst.region->rkey();
    writes.push_back(write);
  }
  const RunClock clock(w.sim());
  const uint64_t end = w.sim().now_ns() + window_ns;
  const uint64_t data_before = w.sim().counters().data_packets_sent;
  EXPECT_TRUE(is_ok(post(p.a, writes)));
  std::vector<Completion> done;
  const auto poll = [&] {
    Completion batch[64];
    auto polled = p.a.send_cq->poll(batch);
    EXPECT_TRUE(is_ok(polled));
    if (!polled.ok()) return size_t{0};
    done.insert(done.end(), batch, batch + *polled);
    return *polled;
  };
  // Polls exactly when a completion came, until the window ends.
  while (poll() > 0 || w.sim().run_until_completion(end)) {
  }
  if (w.sim().now_ns() < end) w.sim().run_until(end);
  poll();
  Window out;
  out.wall_s = clock.wall_s();
  const uint64_t data_packets = w.sim().counters().data_packets_sent - data_before;
  const double line_bits = 400.0 * static_cast<double>(window_ns);  // Gb/s x ns
  out.wire_utilisation = static_cast<double>(data_packets) * (4096 + 62) * 8 / line_bits;
  out.messages_delivered = done.size();
  out.goodput = static_cast<double>(done.size() * kMessage) * 8 / line_bits;
  // RC completes in posting order: the first done.size() writes, each in place.
  for (size_t i = 0; i < done.size(); ++i) {
    EXPECT_TRUE(is_completion(done[i], p.a, i, CompletionKind::kWrite));
    EXPECT_EQ(std::memcmp(dst.data.get() + i * kMessage, src.data.get(), kMessage), 0) << "message " << i;
  }
  EXPECT_LT(done.size(), messages) << "the window should end with writes still in flight";
  // Flush what is still in flight before the buffers go.
  p.a->set_error();
  w.wait_send(p.a, messages - done.size());
  w.settle();
  return out;
}

// Go-back-0 with 4 MiB messages at 1/256 loss per packet: the responder discards a
// message at its first gap, so a message lands only if all its 1024 packets arrive in
// one attempt, (1 - 1/256)^1024 = e^-4 = 1.8 %. Each failed attempt costs the packets up
// to the loss (251 on average) and a window (W = 244 on 5 us links), so about 27 000
// packets go out per message delivered: the link stays busy while about 4 % of it is
// goodput. Go-back-N on the same link delivers (1 - p)/(1 + (W - 1) p) = 0.51.
// Go-back-0 runs for 16 ms of virtual time (about 7 messages expected, so that the
// figure is not the luck of one or two), go-back-N for 4 ms (about 24).
TEST(GoBackZero, LargeMessagesUnderLossKeepTheLinkBusyAndDeliverAlmostNothing) {
  constexpr uint64_t kZeroWindowNs = 16'000'000, kNWindowNs = 4'000'000;
  const Window zero = run_window(true, kZeroWindowNs, 32);
  RecordProperty("go_back_zero_wire_utilisation", std::to_string(zero.wire_utilisation));
  RecordProperty("go_back_zero_goodput", std::to_string(zero.goodput));
  RecordProperty("go_back_zero_simulated_ns", std::to_string(kZeroWindowNs));
  RecordProperty("go_back_zero_wall_s", std::to_string(zero.wall_s));
  EXPECT_GT(zero.wire_utilisation, 0.9);
  EXPECT_LT(zero.goodput, 0.1) << zero.messages_delivered << " messages";
  const Window n = run_window(false, kNWindowNs, 64);
  RecordProperty("go_back_n_wire_utilisation", std::to_string(n.wire_utilisation));
  RecordProperty("go_back_n_goodput", std::to_string(n.goodput));
  RecordProperty("go_back_n_simulated_ns", std::to_string(kNWindowNs));
  RecordProperty("go_back_n_wall_s", std::to_string(n.wall_s));
  EXPECT_GT(n.wire_utilisation, 0.9);
  EXPECT_NEAR(n.goodput, 0.51, 0.1);
  EXPECT_GT(n.goodput, 5 * zero.goodput);
}

}  // namespace
}  // namespace ferry::sim::test
