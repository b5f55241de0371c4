// A rank that vanishes (its node dies silently) or is removed by the others in the middle
// of a collective: every other rank's call ends with an error naming the collective and
// the peer, within a bounded stretch of virtual time, never a hang.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/testing/coll_world.h"
#include "transport/workloads/coll/testing/exact_inputs.h"

namespace ferry::coll::testing {
namespace {

enum class Fault { kVanish, kRemove };

struct Case {
  Collective collective;
  Algorithm algorithm;
  Fault fault;
  uint32_t ranks = 4;
  uint32_t victim = 1;
};

std::string case_name(const Case& c) {
  return std::string(to_string(c.collective)) + "_" + to_string(c.algorithm) + "_" +
         (c.fault == Fault::kVanish ? "Vanish" : "Remove") + "_" + std::to_string(c.ranks) + "ranks";
}

constexpr uint64_t kTimeoutNs = 50'000'000;  // the engine's transfer timeout in these tests
// A wait on a rank that is alive (it answers probes) but failed and will never send
// lasts this long.
constexpr uint64_t kPeerWaitNs = 2 * kTimeoutNs;
constexpr size_t kCount = 16384;             // elements per block: a collective of tens of microseconds

WorldOptions options(const Case& c) {
  WorldOptions o;
  o.provider = fabrics::kEmu;
  o.ranks = c.ranks;
  o.engine.transfer_timeout_ns = kTimeoutNs;
  o.engine.keepalive_interval_ns = kTimeoutNs / 10;
  o.engine.peer_wait_timeout_ns = kPeerWaitNs;
  return o;
}

// One call of the case's collective; `*end_ns` gets the virtual time it returned.
Task<TransferResult> one_call(CollWorld& world, uint32_t rank, Case c, uint64_t* end_ns) {
  Communicator& comm = world.comm(rank);
  const uint32_t n = comm.size();
  std::vector<float> send(n * kCount), recv(n * kCount);
  fill_exact(send.data(), send.size(), DType::kFloat32, rank, n, 5);
  TransferResult r;
  switch (c.collective) {
    case Collective::kAllReduce:
      r = co_await all_reduce(comm, send.data(), kCount, DType::kFloat32, ReduceOp::kSum, c.algorithm);
      break;
    case Collective::kAllGather:
      r = co_await all_gather(comm, send.data(), recv.data(), kCount, DType::kFloat32, c.algorithm);
      break;
    default:
      r = co_await reduce_scatter(comm, send.data(), recv.data(), kCount, DType::kFloat32, ReduceOp::kSum,
                                  c.algorithm);
      break;
  }
  *end_ns = world.now_ns();
  co_return r;
}

class Faults : public ::testing::TestWithParam<Case> {};

TEST_P(Faults, EveryOtherRankFailsClearlyWithinBoundedTime) {
  const Case c = GetParam();
  // The same run without the fault, to place the fault in the middle of the collective.
  uint64_t duration = 0;
  {
    CollWorld clean(options(c), 1 << 20);
    std::vector<uint64_t> end(c.ranks, 0);
    auto results = clean.run([&](uint32_t r) { return one_call(clean, r, c, &end[r]); });
    for (const TransferResult& r : results) ASSERT_TRUE(r.ok()) << r.error().message;
    for (uint64_t e : end) duration = std::max(duration, e);
  }
  CollWorld world(options(c), 1 << 20);
  // Halfway through, except for one-shot: its single exchange means that halfway the
  // victim's data has landed and a rank may rightly finish, so strike before it lands.
  const uint64_t fault_ns = world.now_ns() + duration / (c.algorithm == Algorithm::kOneShot ? 10 : 2);
  world.cluster.fabric().at(fault_ns, [&] {
    if (c.fault == Fault::kVanish) {
      ferry::testing::vanish_node(world.cluster.fabric(), c.victim);
      return;
    }
    for (uint32_t r = 0; r < c.ranks; ++r) {
      if (r != c.victim) {
        ASSERT_TRUE(world.cluster.engine(r).remove_peer(::ferry::rank_name(c.victim)).ok());
      }
    }
  });
  std::vector<uint64_t> end(c.ranks, 0);
  auto results = world.run([&](uint32_t r) { return one_call(world, r, c, &end[r]); });
  for (uint32_t r = 0; r < c.ranks; ++r) {
    if (r == c.victim) continue;
    SCOPED_TRACE("rank " + std::to_string(r));
    ASSERT_FALSE(results[r].ok()) << "succeeded although rank " << c.victim << " was gone";
    EXPECT_TRUE(results[r].error().code == ErrorCode::kUnavailable || results[r].error().code == ErrorCode::kDeadlineExceeded)
        << to_string(results[r].error().code);
    EXPECT_NE(results[r].error().message.find(std::string(to_string(c.collective)) + " (" + to_string(c.algorithm)),
              std::string::npos)
        << results[r].error().message;
    EXPECT_NE(results[r].error().message.find("failed at rank " + std::to_string(r)), std::string::npos) << results[r].error().message;
    // A wait on the victim fails once it is found dead; a wait on a survivor that failed
    // and sends nothing more expires one peer wait timeout after it began; a failing rank
    // then waits for its own sends, which have the transfer deadline.
    EXPECT_GE(end[r], fault_ns);
    EXPECT_LE(end[r] - fault_ns, kPeerWaitNs + 2 * kTimeoutNs) << results[r].error().message;
  }
  // A failed communicator refuses later calls at once, naming the first failure.
  const uint32_t survivor = c.victim == 0 ? 1 : 0;
  std::vector<float> data(8);
  Task<TransferResult> again = all_reduce(world.comm(survivor), data.data(), 8, DType::kFloat32, ReduceOp::kSum);
  again.start();
  ASSERT_TRUE(again.done());
  EXPECT_EQ(again.result().error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(again.result().error().message.find("failed in an earlier call"), std::string::npos) << again.result().error().message;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (Fault f : {Fault::kVanish, Fault::kRemove}) {
    for (Algorithm a : {Algorithm::kRing, Algorithm::kOneShot, Algorithm::kTwoShot}) {
      out.push_back({Collective::kAllReduce, a, f});
    }
    for (Algorithm a : {Algorithm::kRing, Algorithm::kOneShot}) {
      out.push_back({Collective::kAllGather, a, f});
      out.push_back({Collective::kReduceScatter, a, f});
    }
    out.push_back({Collective::kAllReduce, Algorithm::kRing, f, 5, 4});  // the last rank, odd ring
    out.push_back({Collective::kAllReduce, Algorithm::kTwoShot, f, 2, 0});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(All, Faults, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return case_name(info.param); });

}  // namespace
}  // namespace ferry::coll::testing
