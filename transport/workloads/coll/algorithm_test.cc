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

TEST(Algorithms, TheMeasuredCrossovers) {
  // All-reduce on 8 ranks: one-shot up to 4 KiB, two-shot up to 128 MiB, then ring.
  EXPECT_EQ(measured_fastest(Collective::kAllReduce, 4 << 10, 8), Algorithm::kOneShot);
  EXPECT_EQ(measured_fastest(Collective::kAllReduce, 8 << 10, 8), Algorithm::kTwoShot);
  EXPECT_EQ(measured_fastest(Collective::kAllReduce, 128 << 20, 8), Algorithm::kTwoShot);
  EXPECT_EQ(measured_fastest(Collective::kAllReduce, 256 << 20, 8), Algorithm::kRing);
  // On 4 ranks the one-shot region is twice as long; 2 ranks never need two-shot.
  EXPECT_EQ(measured_fastest(Collective::kAllReduce, 8 << 10, 4), Algorithm::kOneShot);
  EXPECT_EQ(measured_fastest(Collective::kAllReduce, 16 << 10, 4), Algorithm::kTwoShot);
  EXPECT_EQ(measured_fastest(Collective::kAllReduce, 1 << 20, 2), Algorithm::kOneShot);
  // Beyond the measured rank counts, the 8-rank row.
  EXPECT_EQ(measured_fastest(Collective::kAllReduce, 8 << 10, 64), Algorithm::kTwoShot);
  EXPECT_EQ(measured_fastest(Collective::kBroadcast, 1 << 20, 8), Algorithm::kTwoShot);
  EXPECT_EQ(measured_fastest(Collective::kAllGather, 1 << 20, 8), Algorithm::kOneShot);
  EXPECT_EQ(measured_fastest(Collective::kAllToAll, 1 << 20, 8), Algorithm::kOneShot);
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
