// Reduce-scatter: direct (one-shot) and ring.
#include <cstring>
#include <vector>

#include "transport/workloads/coll/call.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/partition.h"
#include "transport/workloads/coll/ring.h"
#include "transport/workloads/coll/scratch_layout.h"

namespace ferry::coll {
namespace {

// Every rank writes block j of its input into slot `rank` of rank j; each reduces the n
// contributions to its block (its own in its rank's place). One latency.
Task<TransferResult> direct(Call& call, const uint8_t* send, uint8_t* recv, size_t count, DType dtype, ReduceOp op) {
  Communicator& comm = call.comm();
  const uint32_t n = call.size(), me = call.rank();
  const auto slots = slots_of(comm, n, dtype);
  if (!slots) co_return scratch_too_small(comm, n);
  const size_t rounds = round_count(count, slots->elements);
  call.expect_from_every_peer(rounds);
  call.start();
  const size_t esize = element_bytes(dtype);
  std::vector<const void*> sources(n);
  for (size_t round = 0; round < rounds; ++round) {
    const Range range = round_range(count, slots->elements, round);
    const uint64_t half = comm.begin_round();
    auto block = [&](uint32_t r) { return send + (r * count + range.first) * esize; };
    for (uint32_t p = 0; p < n; ++p) {
      if (p != me) call.write(p, block(p), range.count * esize, slots->offset(half, me));
    }
    TransferResult r = co_await call.arrivals_from_all();
    if (!r.ok()) co_return r;
    for (uint32_t q = 0; q < n; ++q) sources[q] = q == me ? block(me) : comm.scratch().local + slots->offset(half, q);
    reduce(recv + range.first * esize, sources, range.count, dtype, op);
  }
  co_return TransferResult{};
}

// A partial reduction of each block travels the ring, each rank adding its own
// contribution: step s sends the partial of block rank-s-1 and adds into block rank-s-2,
// so that the last step leaves block `rank` complete. Partials wait in two staging slots
// of this rank's own scratch (alternating: one may still be on the wire).
Task<TransferResult> ring(Call& call, const uint8_t* send, uint8_t* recv, size_t count, DType dtype, ReduceOp op) {
  Communicator& comm = call.comm();
  const uint32_t n = call.size(), me = call.rank();
  const auto slots = slots_of(comm, 3, dtype);  // incoming, staging 0, staging 1
  if (!slots) co_return scratch_too_small(comm, 3);
  const size_t rounds = round_count(count, slots->elements);
  const uint32_t steps = n - 1;
  expect_ring_rounds(call, steps, rounds);
  call.start();
  const size_t esize = element_bytes(dtype);
  for (size_t round = 0; round < rounds; ++round) {
    const Range range = round_range(count, slots->elements, round);
    const uint64_t half = comm.begin_round();
    const uint64_t bytes = range.count * esize;
    auto block = [&](int64_t position) { return send + (ring_index(position, n) * count + range.first) * esize; };
    auto staging = [&](uint32_t s) { return comm.scratch().local + slots->offset(half, 1 + s % 2); };
    auto partial = [&](uint32_t s) {
      return RingSend{s == 0 ? static_cast<const void*>(block(int64_t{me} - 1)) : staging(s - 1), bytes};
    };
    auto add_own = [&](uint32_t s, const void* incoming) {
      const void* sources[] = {incoming, block(int64_t{me} - s - 2)};
      reduce(s + 1 == steps ? recv + range.first * esize : staging(s), sources, range.count, dtype, op);
    };
    TransferResult r = co_await ring_round(call, slots->offset(half, 0), steps, partial, add_own);
    if (!r.ok()) co_return r;
  }
  co_return TransferResult{};
}

Task<TransferResult> run(Call& call, Algorithm algorithm, const void* send, void* recv, size_t count, DType dtype,
                         ReduceOp op) {
  const auto* in = static_cast<const uint8_t*>(send);
  auto* out = static_cast<uint8_t*>(recv);
  if (call.size() == 1) {
    std::memmove(out, in, count * element_bytes(dtype));
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
