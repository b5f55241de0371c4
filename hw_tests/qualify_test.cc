#include "hw_tests/qualify.h"

#include <gtest/gtest.h>

#include "emu/fabric.h"
#include "transport/conformance/checks.h"

namespace ferry::qualify {
namespace {

emu::FabricConfig two_nodes(emu::Mode mode, size_t nics) {
  emu::FabricConfig c;
  c.mode = mode;
  c.nics.assign(nics, emu::NicConfig{});
  return c;
}

std::string failures(const Report& report) {
  std::string out;
  for (const Check& c : report.checks) {
    if (c.outcome == Outcome::kFail) out += c.group + "/" + c.name + ": " + c.detail + "\n";
  }
  return out;
}

// The emulator is the reference: it passes every check, in virtual time, on both kinds.
TEST(Qualify, EmuPassesEveryCheck) {
  emu::Fabric fabric(two_nodes(emu::Mode::kDeterministic, 2));
  Options options;
  options.max_bytes = 4 << 20;
  const Report report = run(fabric.node(0), fabric.node(1), options);
  EXPECT_TRUE(report.passed()) << failures(report) << report.table();
  EXPECT_GT(report.count(Outcome::kPass), 40u);
  // Both endpoint kinds and both rails were exercised.
  bool rc = false, srd = false, rail1 = false;
  for (const Check& c : report.checks) {
    rc |= c.name.find("/RC/") != std::string::npos;
    srd |= c.name.find("/SRD/") != std::string::npos;
    rail1 |= c.name.rfind("rail1/", 0) == 0;
  }
  EXPECT_TRUE(rc && srd && rail1);
  // What could not run says why.
  for (const Check& c : report.checks) {
    if (c.outcome == Outcome::kNotRun) {
      EXPECT_FALSE(c.detail.empty()) << c.name;
    }
  }
}

// The functional group is the conformance suite: every check has its row on each rail
// and kind, and those that need a cluster (faults) say why they did not run.
TEST(Qualify, FunctionalGroupRunsEveryConformanceCheck) {
  emu::Fabric fabric(two_nodes(emu::Mode::kDeterministic, 1));
  Options options;
  options.performance = options.robustness = false;
  const Report report = run(fabric.node(0), fabric.node(1), options);
  EXPECT_TRUE(report.passed()) << failures(report);
  for (const conformance::Check& check : conformance::all_checks()) {
    for (const char* kind : {"RC", "SRD"}) {
      const std::string name = std::string("rail0/") + kind + "/" + check.name;
      const Check* row = nullptr;
      for (const Check& c : report.checks) {
        if (c.group == "functional" && c.name == name) row = &c;
      }
      ASSERT_NE(row, nullptr) << "no row " << name;
      if (row->outcome == Outcome::kNotRun) {
        EXPECT_FALSE(row->detail.empty()) << name;
      }
    }
  }
  const Check* retry = nullptr;
  for (const Check& c : report.checks) {
    if (c.name == "rail0/RC/error/retry-exceeded") retry = &c;
  }
  ASSERT_NE(retry, nullptr);
  EXPECT_EQ(retry->outcome, Outcome::kNotRun);
  EXPECT_NE(retry->detail.find("cluster"), std::string::npos) << retry->detail;
}

TEST(Qualify, FastModeFunctionalChecksPass) {
  emu::Fabric fabric(two_nodes(emu::Mode::kFast, 1));
  Options options;
  options.performance = false;
  const Report report = run(fabric.node(0), fabric.node(1), options);
  EXPECT_TRUE(report.passed()) << failures(report);
}

// A threshold the fabric cannot meet fails its check, visibly, in the table and JSON.
TEST(Qualify, UnreachableThresholdsFail) {
  emu::Fabric fabric(two_nodes(emu::Mode::kDeterministic, 1));
  Options options;
  options.functional = options.robustness = false;
  options.max_bytes = 1 << 20;
  options.thresholds.write_bw_min_fraction = 2.0;  // twice line rate
  options.thresholds.write_lat_max_us = 0.001;
  const Report report = run(fabric.node(0), fabric.node(1), options);
  EXPECT_FALSE(report.passed());
  EXPECT_NE(report.table().find("FAIL"), std::string::npos);
  EXPECT_NE(report.json().find("\"passed\": false"), std::string::npos);
  EXPECT_NE(report.json().find("write-lat/8"), std::string::npos);
}

TEST(Thresholds, ShippedFilesParse) {
  for (const char* file : {"hw_tests/thresholds.conf", "hw_tests/thresholds-softroce.conf"}) {
    auto t = Thresholds::load(file);
    ASSERT_TRUE(t.ok()) << t.error().to_string();
  }
  auto defaults = Thresholds::load("hw_tests/thresholds.conf");
  EXPECT_EQ(defaults->write_bw_min_fraction, Thresholds{}.write_bw_min_fraction);
}

TEST(Thresholds, ErrorsNameFileAndLine) {
  auto unknown = Thresholds::parse("# x\nwrite_bw_min_fraction = 0.5\nwrite_bw_min_fractoin = 1\n", "t.conf");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("t.conf:3: unknown threshold 'write_bw_min_fractoin'"), std::string::npos)
      << unknown.error().message;
  auto malformed = Thresholds::parse("read_lat_max_us 5\n", "t.conf");
  ASSERT_FALSE(malformed.ok());
  EXPECT_NE(malformed.error().message.find("t.conf:1:"), std::string::npos);
  auto negative = Thresholds::parse("read_lat_max_us = -1\n", "t.conf");
  EXPECT_FALSE(negative.ok());
  auto fine = Thresholds::parse("read_lat_max_us = 7 # comment\n", "t.conf");
  ASSERT_TRUE(fine.ok());
  EXPECT_EQ(fine->read_lat_max_us, 7);
}

}  // namespace
}  // namespace ferry::qualify
