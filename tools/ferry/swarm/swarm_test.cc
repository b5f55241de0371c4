// The swarm in every Bazel run: a fixed sweep of seeds, the seeds that once failed, and
// the determinism a seed promises (docs/reliability.md, "Swarm").
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "tools/ferry/swarm/seed_plan.h"
#include "tools/ferry/swarm/seed_run.h"

namespace ferry::swarm {
namespace {

// Measured to keep this test well within a minute on two cores in the default build,
// and within the ASan run's patience (docs/reliability.md gives the figures).
constexpr uint64_t kSeeds = 1000;

std::string first_violations(const SeedOutcome& out) {
  std::string all;
  for (const std::string& v : out.violations) all += "\n  " + v;
  return all;
}

TEST(Swarm, FixedSeedsKeepEveryInvariant) {
  size_t failed = 0;
  for (uint64_t seed = 1; seed <= kSeeds && failed < 5; ++seed) {
    const SeedOutcome out = run_seed(seed);
    if (!out.passed()) {
      ++failed;
      ADD_FAILURE() << "seed " << seed << " (ferry swarm --seed " << seed << "):" << first_violations(out);
    }
  }
}

TEST(Swarm, SeedsThatOnceFailedPass) {
  std::ifstream file("tools/ferry/swarm/regression_seeds.txt");
  ASSERT_TRUE(file) << "cannot read tools/ferry/swarm/regression_seeds.txt";
  std::string line;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    const uint64_t seed = std::stoull(line);
    const SeedOutcome out = run_seed(seed);
    EXPECT_TRUE(out.passed()) << "seed " << seed << ": " << line << first_violations(out);
  }
}

// The same seed gives the same plan, the same endings and the same trace hash.
TEST(Swarm, ASeedFixesTheRun) {
  for (uint64_t seed = 1; seed <= 200; seed += 13) {
    EXPECT_EQ(describe(draw_plan(seed)), describe(draw_plan(seed))) << "seed " << seed;
    const SeedOutcome first = run_seed(seed);
    const SeedOutcome again = run_seed(seed);
    EXPECT_EQ(first.trace_hash, again.trace_hash) << "seed " << seed;
    EXPECT_EQ(first.events, again.events) << "seed " << seed;
    EXPECT_NE(first.trace_hash, run_seed(seed + 1).trace_hash) << "seeds " << seed << " and " << seed + 1;
  }
}

// The fixed sweep draws every shape the swarm knows: a sweep that never drew a fault
// kind would check nothing about it.
TEST(Swarm, TheSweepDrawsEveryKind) {
  std::set<std::string> seen;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const SeedPlan p = draw_plan(seed);
    seen.insert("ranks " + std::to_string(p.cluster.ranks));
    seen.insert("rails " + std::to_string(p.cluster.rail_gbps.size()));
    seen.insert(to_string(p.cluster.kind));
    for (const TransferDraw& t : p.transfers) seen.insert(to_string(t.kind));
    for (const FaultDraw& f : p.faults) seen.insert(to_string(f.kind));
    if (p.collective.present) seen.insert(std::string("all_reduce ") + coll::to_string(p.collective.algorithm));
    if (p.broadcast.present) seen.insert("broadcast fanout " + std::to_string(p.broadcast.fanout));
    if (p.pipeline.present) seen.insert("pipeline");
    if (p.kv.present) seen.insert("kv " + std::to_string(p.kv.prefill_tp) + "->" + std::to_string(p.kv.decode_tp));
  }
  for (const char* kind : {"ranks 2", "ranks 8", "rails 1", "rails 2", "RC", "SRD", "write", "write+imm", "paged",
                           "loss", "srd-duplicates", "lost-acks", "link-flap", "nic-death", "node-loss",
                           "all_reduce ring", "all_reduce one_shot", "all_reduce two_shot", "kv 4->4", "kv 1->1",
                           "broadcast fanout 1", "broadcast fanout 3", "pipeline"}) {
    EXPECT_TRUE(seen.count(kind)) << "no seed of the sweep draws " << kind;
  }
}

}  // namespace
}  // namespace ferry::swarm
