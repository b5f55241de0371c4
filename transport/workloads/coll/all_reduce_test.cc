// All-reduce: every algorithm x dtype x op x rank count in deterministic mode, a subset
// in fast mode and on SRD over two rails (where notifications arrive out of order);
// every element of every rank checked against an exact reference.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/testing/coll_world.h"
#include "transport/workloads/coll/testing/exact_inputs.h"

namespace ferry::coll::testing {
namespace {

struct Case {
  Algorithm algorithm;
  DType dtype;
  ReduceOp op;
  uint32_t ranks;
  std::string provider = fabrics::kEmu;
  EndpointKind kind = EndpointKind::kRc;
  size_t rails = 1;
};

std::string case_name(const Case& c) {
  return std::string(to_string(c.algorithm)) + "_" + to_string(c.dtype) + "_" + to_string(c.op) + "_" +
         std::to_string(c.ranks) + "ranks_" + (c.provider == fabrics::kEmuFast ? "Fast" : "Deterministic") + "_" +
         (c.kind == EndpointKind::kRc ? "Rc" : "Srd") + std::to_string(c.rails) + "rail";
}

// Counts: one element, fewer elements than ranks, and an odd count that no rank count
// divides. With 512 bytes of scratch per rank, 1001 elements take several rounds of
// one-shot and two-shot (and of ring on 2 and 3 ranks); ManyRounds below covers the ring.
const std::vector<size_t> kCounts = {1, 2, 1001};
uint64_t scratch_bytes(uint32_t ranks) { return 512 * ranks; }

// One rank's calls, one per count, each checked as soon as it returns: ranks drift apart,
// so a fast rank starts its next call while slower ones still read the last one.
Task<TransferResult> calls(Communicator& comm, Case c, std::vector<size_t> counts, uint64_t seed, size_t* wrong) {
  for (size_t k = 0; k < counts.size(); ++k) {
    const size_t count = counts[k];
    std::vector<uint8_t> data(count * element_bytes(c.dtype));
    fill_exact(data.data(), count, c.dtype, comm.rank(), comm.size(), seed + k);
    TransferResult r = co_await all_reduce(comm, data.data(), count, c.dtype, c.op, c.algorithm);
    if (!r.ok()) co_return r;
    *wrong += count_wrong(data.data(), count, c.dtype,
                          [&](size_t i) { return exact_reduction(i, comm.size(), c.op, seed + k); });
  }
  co_return TransferResult{};
}

void expect_exact(const Case& c, const std::vector<size_t>& counts, uint64_t scratch) {
  WorldOptions o;
  o.provider = c.provider;
  o.kind = c.kind;
  o.ranks = c.ranks;
  o.rail_gbps.assign(c.rails, 100);
  // Fast mode runs on real time: a deadline far away keeps a loaded machine from failing it.
  if (c.provider == fabrics::kEmuFast) o.engine.transfer_timeout_ns = 600'000'000'000;
  CollWorld world(o, scratch);
  std::vector<size_t> wrong(c.ranks, 0);
  auto results = world.run([&](uint32_t r) { return calls(world.comm(r), c, counts, 7, &wrong[r]); });
  for (uint32_t r = 0; r < c.ranks; ++r) {
    EXPECT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r].error().message;
    EXPECT_EQ(wrong[r], 0u) << "rank " << r;
  }
}

class AllReduce : public ::testing::TestWithParam<Case> {};

TEST_P(AllReduce, EveryElementOfEveryRankIsExact) {
  expect_exact(GetParam(), kCounts, scratch_bytes(GetParam().ranks));
}

// 5,000 elements through 2 KiB of scratch: every algorithm on 8 ranks in many rounds.
TEST(AllReduceRounds, ManyRoundsOnEightRanks) {
  for (Algorithm a : {Algorithm::kRing, Algorithm::kOneShot, Algorithm::kTwoShot}) {
    SCOPED_TRACE(to_string(a));
    expect_exact(Case{a, DType::kFloat16, ReduceOp::kSum, 8}, {5000}, 2048);
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  const Algorithm algorithms[] = {Algorithm::kRing, Algorithm::kOneShot, Algorithm::kTwoShot, Algorithm::kAuto};
  const DType dtypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};
  const ReduceOp ops[] = {ReduceOp::kSum, ReduceOp::kMax};
  // Deterministic, RC: the whole product for ring, one-shot and two-shot.
  for (Algorithm a : algorithms) {
    if (a == Algorithm::kAuto) continue;
    for (DType d : dtypes) {
      for (ReduceOp op : ops) {
        for (uint32_t n : {1u, 2u, 3u, 4u, 5u, 8u}) out.push_back({a, d, op, n});
      }
    }
  }
  // Out-of-order delivery (SRD, two rails), and fast mode (real time, real copies).
  for (Algorithm a : algorithms) {
    for (uint32_t n : {2u, 3u, 5u, 8u}) {
      out.push_back({a, DType::kBFloat16, ReduceOp::kSum, n, fabrics::kEmu, EndpointKind::kSrd, 2});
    }
    for (uint32_t n : {3u, 8u}) {
      out.push_back({a, DType::kFloat16, ReduceOp::kSum, n, fabrics::kEmuFast});
      out.push_back({a, DType::kFloat32, ReduceOp::kMax, n, fabrics::kEmuFast, EndpointKind::kSrd, 2});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, AllReduce, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return case_name(info.param); });

}  // namespace
}  // namespace ferry::coll::testing
