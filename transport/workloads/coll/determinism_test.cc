// A deterministic run of an all-reduce is a function of its seed: the same seed gives
// the same fabric trace (hash of every completion) and the same virtual duration.
#include <gtest/gtest.h>

#include <vector>

#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/testing/coll_world.h"
#include "transport/workloads/coll/testing/exact_inputs.h"

namespace ferry::coll::testing {
namespace {

struct Traced {
  uint64_t trace_hash = 0;
  uint64_t duration_ns = 0;
};

Task<TransferResult> all_reduce_twice(Communicator& comm, Algorithm algorithm) {
  std::vector<uint16_t> data(30'001);
  for (uint64_t k = 0; k < 2; ++k) {
    fill_exact(data.data(), data.size(), DType::kBFloat16, comm.rank(), comm.size(), k);
    TransferResult r = co_await all_reduce(comm, data.data(), data.size(), DType::kBFloat16, ReduceOp::kSum, algorithm);
    if (!r.ok()) co_return r;
  }
  co_return TransferResult{};
}

Traced traced_run(uint64_t seed, Algorithm algorithm) {
  WorldOptions o;
  o.provider = fabrics::kEmu;
  o.kind = EndpointKind::kSrd;  // the seed also decides the order SRD delivers in
  o.rail_gbps = {100, 50};
  o.ranks = 5;
  o.seed = seed;
  CollWorld world(o, 64 << 10);
  for (const TransferResult& r : world.run([&](uint32_t rank) { return all_reduce_twice(world.comm(rank), algorithm); })) {
    EXPECT_TRUE(r.ok()) << r.error().message;
  }
  return Traced{world.cluster.fabric().trace_hash(), world.now_ns()};
}

TEST(Determinism, SameSeedSameTraceForEveryAlgorithm) {
  for (Algorithm a : {Algorithm::kRing, Algorithm::kOneShot, Algorithm::kTwoShot}) {
    SCOPED_TRACE(to_string(a));
    const Traced first = traced_run(42, a);
    const Traced second = traced_run(42, a);
    EXPECT_EQ(first.trace_hash, second.trace_hash);
    EXPECT_EQ(first.duration_ns, second.duration_ns);
    EXPECT_NE(traced_run(43, a).trace_hash, first.trace_hash) << "the seed should change SRD's delivery order";
  }
}

}  // namespace
}  // namespace ferry::coll::testing
