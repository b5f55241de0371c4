// What kAuto picks, and which algorithms each collective has.
#include "transport/workloads/coll/algorithm.h"

#include <gtest/gtest.h>

#include "transport/workloads/coll/testing/coll_world.h"

namespace ferry::coll {
namespace {

TEST(Algorithms, EachCollectiveHasItsOwn) {
  for (Collective c : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                       Collective::kBroadcast, Collective::kAllToAll}) {
    EXPECT_TRUE(supports(c, Algorithm::kAuto));
    EXPECT_TRUE(supports(c, measured_fastest(c, 1 << 20, 4))) << to_string(c);
  }
  EXPECT_TRUE(supports(Collective::kAllReduce, Algorithm::kRing));
  EXPECT_FALSE(supports(Collective::kAllGather, Algorithm::kTwoShot));
  EXPECT_FALSE(supports(Collective::kBroadcast, Algorithm::kRing));
  EXPECT_FALSE(supports(Collective::kAllToAll, Algorithm::kRing));
  for (Algorithm a : {Algorithm::kAuto, Algorithm::kRing, Algorithm::kOneShot, Algorithm::kTwoShot}) {
    EXPECT_EQ(algorithm_from_string(to_string(a)), a);
  }
}

TEST(Algorithms, SmallAllReducesGoOneShotLargeOnesDoNot) {
  for (uint32_t ranks : {2u, 3u, 4u, 5u, 8u, 16u}) {
    EXPECT_EQ(measured_fastest(Collective::kAllReduce, 8, ranks), Algorithm::kOneShot) << ranks;
    EXPECT_NE(measured_fastest(Collective::kAllReduce, 256 << 20, ranks), Algorithm::kOneShot) << ranks;
  }
}

// The thresholds themselves are measured again on sim by crossover_test.
TEST(Algorithms, RankCountsBeyondTheTableTakeItsLargestRow) {
  for (Collective c : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                       Collective::kBroadcast, Collective::kAllToAll}) {
    for (uint64_t bytes = 8; bytes <= (1ull << 30); bytes *= 2) {
      EXPECT_EQ(measured_fastest(c, bytes, 64), measured_fastest(c, bytes, 8)) << to_string(c) << " " << bytes;
    }
  }
  EXPECT_EQ(measured_fastest(Collective::kAllToAll, 1 << 20, 8), Algorithm::kOneShot);
  EXPECT_NE(measured_fastest(Collective::kBroadcast, 1 << 30, 8), Algorithm::kRing);
}

TEST(Algorithms, AutoAvoidsOneShotThatWouldTakeSeveralRounds) {
  ferry::testing::WorldOptions o;
  o.provider = fabrics::kEmu;
  o.ranks = 4;
  testing::CollWorld world(o, 1024);  // 512 bytes a round: 128 per rank for one-shot
  Communicator& comm = world.comm(0);
  EXPECT_EQ(comm.resolve(Collective::kAllReduce, Algorithm::kAuto, 64), Algorithm::kOneShot);
  EXPECT_EQ(comm.resolve(Collective::kAllReduce, Algorithm::kAuto, 256), Algorithm::kTwoShot);
  EXPECT_EQ(comm.resolve(Collective::kAllReduce, Algorithm::kRing, 64), Algorithm::kRing);
}

}  // namespace
}  // namespace ferry::coll
