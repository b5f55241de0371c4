// All-gather, reduce-scatter, broadcast and all-to-all: every algorithm x dtype (x op)
// x rank count in deterministic mode, a subset on SRD over two rails and in fast mode,
// in-place variants; every element of every rank checked against an exact reference.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/testing/coll_world.h"
#include "transport/workloads/coll/testing/exact_inputs.h"

namespace ferry::coll::testing {
namespace {

struct Case {
  Collective collective;
  Algorithm algorithm;
  DType dtype;
  ReduceOp op;
  uint32_t ranks;
  bool in_place = false;
  std::string provider = fabrics::kEmu;
  EndpointKind kind = EndpointKind::kRc;
  size_t rails = 1;
};

std::string case_name(const Case& c) {
  std::string name = std::string(to_string(c.collective)) + "_" + to_string(c.algorithm) + "_" +
                     to_string(c.dtype) + "_";
  if (c.collective == Collective::kReduceScatter) name += std::string(to_string(c.op)) + "_";
  name += std::to_string(c.ranks) + "ranks";
  if (c.in_place) name += "_InPlace";
  if (c.provider == fabrics::kEmuFast) name += "_Fast";
  if (c.kind == EndpointKind::kSrd) name += "_Srd" + std::to_string(c.rails) + "rail";
  return name;
}

// Fewer elements than ranks, and an odd count no rank count divides that takes several
// rounds of the 512 bytes of scratch per rank used below.
const std::vector<size_t> kCounts = {1, 2, 301};

size_t bytes_of(size_t count, DType dtype) { return count * element_bytes(dtype); }

// One call of c.collective on this rank with `count` elements per block, checked.
Task<TransferResult> one_call(Communicator& comm, Case c, size_t count, uint64_t seed, size_t* wrong) {
  const uint32_t n = comm.size(), me = comm.rank();
  const DType d = c.dtype;
  auto at = [&](std::vector<uint8_t>& buffer, size_t element) { return buffer.data() + bytes_of(element, d); };
  TransferResult r;
  switch (c.collective) {
    case Collective::kAllGather: {
      std::vector<uint8_t> send(bytes_of(count, d)), recv(bytes_of(n * count, d));
      uint8_t* mine = c.in_place ? at(recv, me * count) : send.data();
      fill_exact(mine, count, d, me, n, seed);
      r = co_await all_gather(comm, mine, recv.data(), count, d, c.algorithm);
      *wrong += count_wrong(recv.data(), n * count, d,
                            [&](size_t i) { return exact_value(uint32_t(i / count), i % count, n, seed); });
      break;
    }
    case Collective::kReduceScatter: {
      std::vector<uint8_t> send(bytes_of(n * count, d)), recv(bytes_of(count, d));
      fill_exact(send.data(), n * count, d, me, n, seed);
      uint8_t* out = c.in_place ? at(send, me * count) : recv.data();
      r = co_await reduce_scatter(comm, send.data(), out, count, d, c.op, c.algorithm);
      *wrong += count_wrong(out, count, d, [&](size_t i) { return exact_reduction(me * count + i, n, c.op, seed); });
      break;
    }
    case Collective::kBroadcast: {
      for (uint32_t root : {0u, n - 1}) {
        std::vector<uint8_t> data(bytes_of(count, d));
        fill_exact(data.data(), count, d, me, n, seed + root);
        r = co_await broadcast(comm, data.data(), count, d, root, c.algorithm);
        if (!r.ok()) break;
        *wrong += count_wrong(data.data(), count, d, [&](size_t i) { return exact_value(root, i, n, seed + root); });
      }
      break;
    }
    case Collective::kAllToAll: {
      std::vector<uint8_t> send(bytes_of(n * count, d)), recv(bytes_of(n * count, d));
      std::vector<uint8_t>& in = c.in_place ? recv : send;
      fill_exact(in.data(), n * count, d, me, n, seed);
      r = co_await all_to_all(comm, in.data(), recv.data(), count, d);
      *wrong += count_wrong(recv.data(), n * count, d, [&](size_t i) {
        return exact_value(uint32_t(i / count), me * count + i % count, n, seed);
      });
      break;
    }
    case Collective::kAllReduce: {
      std::vector<uint8_t> data(bytes_of(count, d));
      fill_exact(data.data(), count, d, me, n, seed);
      r = co_await all_reduce(comm, data.data(), count, d, c.op, c.algorithm);
      *wrong += count_wrong(data.data(), count, d, [&](size_t i) { return exact_reduction(i, n, c.op, seed); });
      break;
    }
  }
  co_return r;
}

// Every count in turn, each checked as soon as it returns (ranks drift apart).
Task<TransferResult> calls(Communicator& comm, std::vector<Case> sequence, std::vector<size_t> counts, size_t* wrong) {
  uint64_t seed = 11;
  for (const Case& c : sequence) {
    for (size_t count : counts) {
      TransferResult r = co_await one_call(comm, c, count, ++seed, wrong);
      if (!r.ok()) co_return r;
    }
  }
  co_return TransferResult{};
}

void expect_exact(const std::vector<Case>& sequence, const std::vector<size_t>& counts) {
  const Case& c = sequence.front();
  WorldOptions o;
  o.provider = c.provider;
  o.kind = c.kind;
  o.ranks = c.ranks;
  o.rail_gbps.assign(c.rails, 100);
  // Fast mode runs on real time: a deadline far away keeps a loaded machine from failing it.
  if (c.provider == fabrics::kEmuFast) o.engine.transfer_timeout_ns = 600'000'000'000;
  CollWorld world(o, 512 * c.ranks);
  std::vector<size_t> wrong(c.ranks, 0);
  auto results = world.run([&](uint32_t r) { return calls(world.comm(r), sequence, counts, &wrong[r]); });
  for (uint32_t r = 0; r < c.ranks; ++r) {
    EXPECT_TRUE(results[r].ok()) << "rank " << r << ": " << results[r].error().message;
    EXPECT_EQ(wrong[r], 0u) << "rank " << r;
  }
}

class Collectives : public ::testing::TestWithParam<Case> {};

TEST_P(Collectives, EveryElementOfEveryRankIsExact) { expect_exact({GetParam()}, kCounts); }

std::vector<Case> cases() {
  std::vector<Case> out;
  const DType dtypes[] = {DType::kFloat32, DType::kFloat16, DType::kBFloat16};
  const uint32_t ranks[] = {1, 2, 3, 4, 5, 8};
  auto algorithms_of = [](Collective c) {
    std::vector<Algorithm> all;
    for (Algorithm a : {Algorithm::kRing, Algorithm::kOneShot, Algorithm::kTwoShot, Algorithm::kAuto}) {
      if (supports(c, a)) all.push_back(a);
    }
    return all;
  };
  for (Collective coll : {Collective::kAllGather, Collective::kReduceScatter, Collective::kBroadcast,
                          Collective::kAllToAll}) {
    for (Algorithm a : algorithms_of(coll)) {
      if (coll == Collective::kAllToAll && a == Algorithm::kOneShot) continue;  // the API has no choice
      for (DType d : dtypes) {
        for (uint32_t n : ranks) {
          out.push_back({coll, a, d, ReduceOp::kSum, n});
          if (coll == Collective::kReduceScatter) out.push_back({coll, a, d, ReduceOp::kMax, n});
        }
      }
      for (uint32_t n : {3u, 8u}) {
        out.push_back({coll, a, DType::kBFloat16, ReduceOp::kSum, n, false, fabrics::kEmu,
                       EndpointKind::kSrd, 2});
        out.push_back({coll, a, DType::kFloat16, ReduceOp::kMax, n, false, fabrics::kEmuFast});
      }
      if (coll != Collective::kBroadcast) {
        for (uint32_t n : {1u, 4u, 5u}) out.push_back({coll, a, DType::kFloat32, ReduceOp::kSum, n, true});
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, Collectives, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return case_name(info.param); });

// One communicator carries every collective and algorithm back to back, ranks drifting
// apart: consecutive calls of different shapes must not overwrite each other's scratch.
TEST(CollectivesSequence, EveryCollectiveBackToBackOnOneCommunicator) {
  for (uint32_t n : {2u, 5u}) {
    SCOPED_TRACE(n);
    std::vector<Case> sequence;
    for (Collective coll : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                            Collective::kBroadcast, Collective::kAllToAll}) {
      for (Algorithm a : {Algorithm::kRing, Algorithm::kOneShot, Algorithm::kTwoShot}) {
        if (supports(coll, a)) sequence.push_back({coll, a, DType::kFloat16, ReduceOp::kSum, n});
      }
    }
    expect_exact(sequence, {1, 301});
  }
}

// A refused argument is refused alike on every rank before any tag is taken, so the
// communicator stays usable.
TEST(CollectivesArguments, RefusedCallsLeaveTheCommunicatorUsable) {
  WorldOptions o;
  o.provider = fabrics::kEmu;
  o.ranks = 3;
  CollWorld world(o, 4096);
  std::vector<float> data(10);
  auto refusals = world.run([&](uint32_t r) -> Task<TransferResult> {
    Communicator& comm = world.comm(r);
    TransferResult gather = co_await all_gather(comm, data.data(), data.data(), 1, DType::kFloat32, Algorithm::kTwoShot);
    TransferResult bcast = co_await broadcast(comm, data.data(), 1, DType::kFloat32, 3);
    if (gather.ok() || bcast.ok()) co_return TransferResult{};
    co_return make_error(gather.error().code, gather.error().message + " | " + bcast.error().message);
  });
  for (const TransferResult& r : refusals) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message.find("all_gather has no two_shot algorithm"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("broadcast root 3 of 3 ranks"), std::string::npos) << r.error().message;
  }
  std::vector<size_t> wrong(3, 0);
  auto results = world.run([&](uint32_t r) {
    return calls(world.comm(r), {{Collective::kAllReduce, Algorithm::kRing, DType::kFloat32, ReduceOp::kSum, 3}},
                 {100}, &wrong[r]);
  });
  for (uint32_t r = 0; r < 3; ++r) {
    EXPECT_TRUE(results[r].ok()) << results[r].error().message;
    EXPECT_EQ(wrong[r], 0u);
  }
}

}  // namespace
}  // namespace ferry::coll::testing
