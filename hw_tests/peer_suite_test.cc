// The two-process suite's protocol with both sides in this process: each side on its
// own thread, on its own node of emu's fast mode (real time, real threads), meeting over
// a loopback TCP link as two processes would. The server's death is simulated by its
// node vanishing.
#include "hw_tests/peer_suite.h"

#include <gtest/gtest.h>

#include <thread>

#include "emu/fabric.h"

namespace ferry::qualify {
namespace {

constexpr uint64_t kWaitNs = 30'000'000'000ull;

emu::FabricConfig two_nodes(size_t nics) {
  emu::FabricConfig c;
  c.mode = emu::Mode::kFast;
  c.nics.assign(nics, emu::NicConfig{});
  return c;
}

PeerOptions quick() {
  PeerOptions o;
  o.suite.performance = false;
  o.suite.timeout_ns = 5'000'000'000ull;
  o.suite.thresholds.imm_load_notifications = 2000;
  return o;
}

const Check* find(const Report& report, const std::string& name) {
  for (const Check& c : report.checks) {
    if (c.group + "/" + c.name == name) return &c;
  }
  return nullptr;
}

std::string failures(const Report& report) {
  std::string out;
  for (const Check& c : report.checks) {
    if (c.outcome == Outcome::kFail) out += c.group + "/" + c.name + ": " + c.detail + "\n";
  }
  return out;
}

TEST(PeerSuite, EveryCheckPassesAndTheSurvivorSeesTheKilledPeerFail) {
  emu::Fabric fabric(two_nodes(2));
  auto listener = PeerListener::open("127.0.0.1:0");
  ASSERT_TRUE(listener.ok()) << listener.error().to_string();
  const std::string where = "127.0.0.1:" + std::to_string((*listener)->port());
  Report server_report;
  std::string server_error;
  bool died = false;
  std::thread server([&] {
    auto link = (*listener)->accept(kWaitNs);
    if (!link.ok()) {
      server_error = link.error().to_string();
      return;
    }
    PeerOptions o = quick();
    o.die = [&] {
      died = true;
      fabric.vanish_node(0);
      (*link)->close();
    };
    server_report = run_peer(fabric.node(0), **link, PeerRole::kServer, o);
  });
  auto link = connect_peer(where, kWaitNs);
  ASSERT_TRUE(link.ok()) << link.error().to_string();
  const Report client_report = run_peer(fabric.node(1), **link, PeerRole::kClient, quick());
  server.join();
  ASSERT_EQ(server_error, "");
  EXPECT_TRUE(died);
  EXPECT_TRUE(client_report.passed()) << failures(client_report) << client_report.table();
  EXPECT_TRUE(server_report.passed()) << failures(server_report);
  for (const char* name : {"functional/rail0/RC/write-gather", "functional/rail1/SRD/batch-of-64",
                           "functional/rail0/RC/read", "functional/rail1/RC/error/receiver-not-ready",
                           "robustness/rail0/SRD/error-then-fresh-endpoint", "functional/engine/imm-counter-under-load",
                           "functional/engine/striping-over-2-rails", "robustness/peer-process-killed"}) {
    const Check* c = find(client_report, name);
    ASSERT_NE(c, nullptr) << name << "\n" << client_report.table();
    EXPECT_EQ(c->outcome, Outcome::kPass) << name << ": " << c->detail;
  }
  // The survivor names the failure it saw.
  EXPECT_NE(find(client_report, "robustness/peer-process-killed")->detail.find("first failure after"), std::string::npos);
  // Both sides recorded the same checks up to the kill.
  ASSERT_EQ(server_report.checks.size(), client_report.checks.size());
  for (size_t i = 0; i < server_report.checks.size(); ++i) {
    EXPECT_EQ(server_report.checks[i].name, client_report.checks[i].name);
    EXPECT_EQ(server_report.checks[i].outcome, client_report.checks[i].outcome) << server_report.checks[i].name;
  }
}

// Between the processes the performance group measures write bandwidth and the
// memory-polled ping-pong, and both sides record the client's figures.
TEST(PeerSuite, PerformanceIsMeasuredBetweenTheProcesses) {
  emu::Fabric fabric(two_nodes(1));
  auto listener = PeerListener::open("127.0.0.1:0");
  ASSERT_TRUE(listener.ok());
  PeerOptions o = quick();
  o.suite.functional = o.suite.robustness = false;
  o.suite.performance = true;
  o.suite.perf_read = o.suite.perf_send = false;
  o.suite.min_bytes = o.suite.max_bytes = 65536;
  o.suite.bw_total_bytes = 4 << 20;
  // Real time on threads: the figures are whatever the machine gives; only that they
  // were measured and agreed on is checked, never their speed.
  o.suite.thresholds.write_lat_max_us = 1e9;
  o.suite.thresholds.write_bw_min_fraction = 0;
  Report server_report;
  std::thread server([&] {
    auto link = (*listener)->accept(kWaitNs);
    if (link.ok()) server_report = run_peer(fabric.node(0), **link, PeerRole::kServer, o);
  });
  auto link = connect_peer("127.0.0.1:" + std::to_string((*listener)->port()), kWaitNs);
  ASSERT_TRUE(link.ok());
  const Report client_report = run_peer(fabric.node(1), **link, PeerRole::kClient, o);
  server.join();
  for (const char* name : {"performance/rail0/RC/write-bw/65536", "performance/rail0/RC/write-lat-poll/8",
                           "performance/rail0/SRD/write-lat-poll/8"}) {
    for (const Report* report : {&client_report, static_cast<const Report*>(&server_report)}) {
      const Check* c = find(*report, name);
      ASSERT_NE(c, nullptr) << name << "\n" << report->table();
      EXPECT_EQ(c->outcome, Outcome::kPass) << name << ": " << c->detail;
      EXPECT_TRUE(c->has_value);
      EXPECT_GT(c->value, 0) << name;
    }
    EXPECT_EQ(find(client_report, name)->value, find(server_report, name)->value) << name;
  }
}

// A peer that goes away before saying anything is a failed run, reported, not a hang.
TEST(PeerSuite, APeerThatHangsUpFailsTheRunWithTheReason) {
  emu::Fabric fabric(two_nodes(1));
  auto listener = PeerListener::open("127.0.0.1:0");
  ASSERT_TRUE(listener.ok());
  std::thread server([&] {
    auto link = (*listener)->accept(kWaitNs);
    if (link.ok()) (*link)->close();
  });
  auto link = connect_peer("127.0.0.1:" + std::to_string((*listener)->port()), kWaitNs);
  ASSERT_TRUE(link.ok());
  server.join();
  const Report report = run_peer(fabric.node(1), **link, PeerRole::kClient, quick());
  EXPECT_FALSE(report.passed());
  ASSERT_FALSE(report.checks.empty());
  EXPECT_NE(report.checks.back().detail.find("closed"), std::string::npos) << report.table();
}

// Both sides must run the same provider.
TEST(PeerSuite, APeerOnAnotherProviderIsRefused) {
  emu::Fabric fabric(two_nodes(1));
  auto listener = PeerListener::open("127.0.0.1:0");
  ASSERT_TRUE(listener.ok());
  std::thread server([&] {
    auto link = (*listener)->accept(kWaitNs);
    if (!link.ok()) return;
    WireWriter hello;
    hello.text("verbs").u64(1).u64(1).u64(0).u64(1);
    (void)(*link)->send("hello", hello.data());
    (void)(*link)->expect("hello", kWaitNs);
  });
  auto link = connect_peer("127.0.0.1:" + std::to_string((*listener)->port()), kWaitNs);
  ASSERT_TRUE(link.ok());
  const Report report = run_peer(fabric.node(1), **link, PeerRole::kClient, quick());
  server.join();
  EXPECT_FALSE(report.passed());
  ASSERT_FALSE(report.checks.empty());
  EXPECT_NE(report.checks[0].detail.find("the peer runs provider verbs"), std::string::npos) << report.table();
}

}  // namespace
}  // namespace ferry::qualify
