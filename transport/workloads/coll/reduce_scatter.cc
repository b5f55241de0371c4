// Reduce-scatter: direct (one-shot) and ring.
#include <cstring>
#include <vector>

#include "transport/workloads/coll/call.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/partition.h"
#include "transport/workloads/coll/ring.h"
#include "transport/workloads/coll/rounds.h"

namespace ferry::coll {
namespace {

// Every rank writes block j of its input into slot `rank` of rank j; each reduces the n
// contributions to its block (its own in its rank's place). One latency.
Task<TransferResult> direct(Call& call, const uint8_t* send, uint8_t* recv, size_t count, DType dtype, ReduceOp op) {
  const uint32_t n = call.size(), me = call.rank();
  const auto plan = start_rounds(call, n, count, dtype, 1,
                                 [&](uint64_t rounds) { call.expect_from_every_peer(rounds); });
  if (!plan.ok()) co_return plan.error();
  const size_t esize = element_bytes(dtype);
  std::vector<const void*> sources(n);
  co_return co_await for_each_round(call, *plan, [&](Range range, uint64_t half) -> Task<TransferResult> {
    auto block = [&](uint32_t r) { return send + (r * count + range.first) * esize; };
    call.write_to_peers(plan->slots.offset(half, me), [&](uint32_t p) { return Piece{block(p), range.count * esize}; });
    TransferResult r = co_await call.arrivals_from_all();
    if (!r.ok()) co_return r;
    for (uint32_t q = 0; q < n; ++q) sources[q] = q == me ? block(me) : plan->local(half, q);
    call.reduce(recv + range.first * esize, sources, range.count, dtype, op);
    co_return r;
  });
}

// A partial reduction of each block travels the ring, each rank adding its own
// contribution: step s sends the partial of block rank-s-1 and adds into block rank-s-2,
// so that the last step leaves block `rank` complete. Partials wait in two staging slots
// of this rank's own scratch (alternating: one may still be on the wire).
Task<TransferResult> ring(Call& call, const uint8_t* send, uint8_t* recv, size_t count, DType dtype, ReduceOp op) {
  const uint32_t n = call.size(), me = call.rank();
  const uint32_t steps = n - 1;
  // Three slots a round: incoming, staging 0, staging 1.
  const auto plan = start_rounds(call, 3, count, dtype, 1,
                                 [&](uint64_t rounds) { expect_ring_rounds(call, steps, rounds); });
  if (!plan.ok()) co_return plan.error();
  const size_t esize = element_bytes(dtype);
  co_return co_await for_each_round(call, *plan, [&](Range range, uint64_t half) -> Task<TransferResult> {
    const uint64_t bytes = range.count * esize;
    auto block = [&](int64_t position) { return send + (ring_index(position, n) * count + range.first) * esize; };
    auto staging = [&](uint32_t s) { return plan->local(half, 1 + s % 2); };
    auto partial = [&](uint32_t s) {
      return Piece{s == 0 ? static_cast<const void*>(block(int64_t{me} - 1)) : staging(s - 1), bytes};
    };
    auto add_own = [&](uint32_t s, const void* incoming) {
      const void* sources[] = {incoming, block(int64_t{me} - s - 2)};
      call.reduce(s + 1 == steps ? recv + range.first * esize : staging(s), sources, range.count, dtype, op);
    };
    co_return co_await ring_round(call, plan->slots.offset(half, 0), steps, partial, add_own);
  });
}

Task<TransferResult> run(Call& call, Algorithm algorithm, const void* send, void* recv, size_t count, DType dtype,
                         ReduceOp op) {
  const auto* in = static_cast<const uint8_t*>(send);
  auto* out = static_cast<uint8_t*>(recv);
  if (call.size() == 1) {
    call.copy(out, in, count * element_bytes(dtype));
    return completed();
  }
  return algorithm == Algorithm::kRing ? ring(call, in, out, count, dtype, op) : direct(call, in, out, count, dtype, op);
}

}  // namespace

Task<TransferResult> reduce_scatter(Communicator& comm, const void* send, void* recv, size_t count, DType dtype,
                                    ReduceOp op, Algorithm algorithm) {
  const uint64_t total = count * element_bytes(dtype) * comm.size();
  return run_collective(comm, Collective::kReduceScatter, algorithm, total, {{send, total}},
                        [=](Call& call, Algorithm chosen) { return run(call, chosen, send, recv, count, dtype, op); });
}

}  // namespace ferry::coll
