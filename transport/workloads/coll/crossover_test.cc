// The automatic choice, measured again: on the fabric the table in algorithm.cc was
// measured on (sim, a leaf-spine of two ranks a leaf and two spines, one 400 Gb/s NIC
// per rank, PFC), at each size where measured_fastest() switches algorithm, the one it
// names is the faster on both sides of the switch. Virtual time, so the figures are
// exact and repeatable; every output element is checked.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "transport/workloads/coll/algorithm.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/testing/coll_world.h"
#include "transport/workloads/coll/testing/exact_inputs.h"

namespace ferry::coll {
namespace {

using testing::CollWorld;

constexpr uint64_t kSeed = 7;

ferry::testing::WorldOptions measured_fabric(uint32_t ranks) {
  ferry::testing::WorldOptions o;
  o.provider = fabrics::kSim;
  o.ranks = ranks;
  o.rail_gbps = {400};
  o.sim_leaf_spine = fabrics::LeafSpine{};
  o.sim_pfc = true;
  return o;
}

// One rank count's fabric and buffers, warmed up as the sweep is (every pair connected).
class Measurement {
 public:
  Measurement(uint32_t ranks, uint64_t max_bytes)
      : ranks_(ranks), world_(measured_fabric(ranks), 64ull << 20), send_(ranks), recv_(ranks) {
    for (uint32_t r = 0; r < ranks; ++r) {
      send_[r].assign(max_bytes / sizeof(float), 0);
      recv_[r].assign(max_bytes / sizeof(float), 0);
    }
    time_of(Collective::kAllReduce, Algorithm::kOneShot, 4 * ranks);
  }

  // Virtual nanoseconds of one call of `bytes` (the nccl-tests size) on every rank.
  uint64_t time_of(Collective collective, Algorithm algorithm, uint64_t bytes) {
    const size_t block = bytes / sizeof(float) / ranks_;  // all-gather: each rank's part
    const size_t count = collective == Collective::kAllReduce ? bytes / sizeof(float) : block * ranks_;
    const size_t sent = collective == Collective::kAllReduce ? count : block;  // per rank
    for (uint32_t r = 0; r < ranks_; ++r) testing::fill_exact(send_[r].data(), sent, DType::kFloat32, r, ranks_, kSeed);
    const uint64_t start = world_.now_ns();
    const std::vector<TransferResult> results = world_.run([&](uint32_t r) {
      if (collective == Collective::kAllReduce) {
        return all_reduce(world_.comm(r), send_[r].data(), count, DType::kFloat32, ReduceOp::kSum, algorithm);
      }
      return all_gather(world_.comm(r), send_[r].data(), recv_[r].data(), block, DType::kFloat32, algorithm);
    });
    const uint64_t elapsed = world_.now_ns() - start;
    for (uint32_t r = 0; r < ranks_; ++r) {
      EXPECT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r].error().to_string();
      const size_t wrong =
          collective == Collective::kAllReduce
              ? testing::count_wrong(send_[r].data(), count, DType::kFloat32,
                                     [&](size_t i) { return testing::exact_reduction(i, ranks_, ReduceOp::kSum, kSeed); })
              : testing::count_wrong(recv_[r].data(), count, DType::kFloat32, [&](size_t i) {
                  return testing::exact_value(uint32_t(i / block), i % block, ranks_, kSeed);
                });
      EXPECT_EQ(wrong, 0u) << to_string(collective) << " " << to_string(algorithm) << " " << bytes << " B, rank " << r;
    }
    return elapsed;
  }

 private:
  uint32_t ranks_;
  CollWorld world_;
  std::vector<std::vector<float>> send_;
  std::vector<std::vector<float>> recv_;
};

// The sizes the sweep measures (tools/measure_crossover.py: 1 KiB up, doubling), as the
// nccl-tests size column gives them: all-gather's rounded down to whole blocks.
uint64_t swept_size(Collective collective, uint64_t power_of_two, uint32_t ranks) {
  if (collective == Collective::kAllReduce) return power_of_two;
  return power_of_two / sizeof(float) / ranks * ranks * sizeof(float);
}

// At every switch of measured_fastest() between 1 KiB and max_bytes: the algorithm it
// names below the switch is faster there than the one above, and the other way round.
void expect_the_table_holds(Collective collective, uint32_t ranks, uint64_t max_bytes) {
  Measurement measure(ranks, 2 * max_bytes);
  int switches = 0;
  for (uint64_t p = 1 << 10; p <= max_bytes; p *= 2) {
    const uint64_t below = swept_size(collective, p, ranks);
    const uint64_t above = swept_size(collective, 2 * p, ranks);
    const Algorithm a = measured_fastest(collective, below, ranks);
    const Algorithm b = measured_fastest(collective, above, ranks);
    if (a == b) continue;
    ++switches;
    const std::string where = std::string(to_string(collective)) + ", " + std::to_string(ranks) + " ranks, " +
                              to_string(a) + " up to " + std::to_string(below) + " B, " + to_string(b) + " at " +
                              std::to_string(above) + " B";
    EXPECT_LE(measure.time_of(collective, a, below), measure.time_of(collective, b, below)) << where;
    EXPECT_LE(measure.time_of(collective, b, above), measure.time_of(collective, a, above)) << where;
  }
  EXPECT_GT(switches, 0) << "no switch to check below " << max_bytes << " B";
}

TEST(Crossover, AllReduceOnEightRanks) { expect_the_table_holds(Collective::kAllReduce, 8, 8ull << 20); }

TEST(Crossover, AllGatherOnSixRanks) { expect_the_table_holds(Collective::kAllGather, 6, 4ull << 20); }

}  // namespace
}  // namespace ferry::coll
