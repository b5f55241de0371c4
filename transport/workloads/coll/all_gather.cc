// All-gather: direct (one-shot) and ring.
#include <cstring>
#include <vector>

#include "transport/workloads/coll/call.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/partition.h"
#include "transport/workloads/coll/ring.h"
#include "transport/workloads/coll/rounds.h"

namespace ferry::coll {
namespace {

// Every rank writes its block into slot `rank` of every peer; each copies the n-1 slots
// into place. One latency; every rank sends its block n-1 times.
Task<TransferResult> direct(Call& call, const uint8_t* send, uint8_t* recv, size_t count, DType dtype) {
  const uint32_t n = call.size(), me = call.rank();
  const auto plan = start_rounds(call, n, count, dtype, 1,
                                 [&](uint64_t rounds) { call.expect_from_every_peer(rounds); });
  if (!plan.ok()) co_return plan.error();
  const size_t esize = element_bytes(dtype);
  co_return co_await for_each_round(call, *plan, [&](Range range, uint64_t half) -> Task<TransferResult> {
    const Piece mine{send + range.first * esize, range.count * esize};
    auto block = [&](uint32_t r) { return recv + (r * count + range.first) * esize; };
    call.write_to_peers(plan->slots.offset(half, me), [&](uint32_t) { return mine; });
    call.copy(block(me), mine.src, mine.bytes);
    TransferResult r = co_await call.arrivals_from_all();
    if (!r.ok()) co_return r;
    for (uint32_t q = 0; q < n; ++q) {
      if (q != me) call.copy(block(q), plan->local(half, q), mine.bytes);
    }
    co_return r;
  });
}

// Each block travels the ring: at step s a rank forwards block rank-s (its own first)
// and copies block rank-s-1 from its predecessor. n-1 latencies; every rank sends n-1
// blocks once each.
Task<TransferResult> ring(Call& call, const uint8_t* send, uint8_t* recv, size_t count, DType dtype) {
  const uint32_t n = call.size(), me = call.rank();
  const uint32_t steps = n - 1;
  const auto plan = start_rounds(call, 1, count, dtype, 1,
                                 [&](uint64_t rounds) { expect_ring_rounds(call, steps, rounds); });
  if (!plan.ok()) co_return plan.error();
  const size_t esize = element_bytes(dtype);
  co_return co_await for_each_round(call, *plan, [&](Range range, uint64_t half) -> Task<TransferResult> {
    const uint64_t bytes = range.count * esize;
    auto block = [&](int64_t position) { return recv + (ring_index(position, n) * count + range.first) * esize; };
    call.copy(block(me), send + range.first * esize, bytes);
    auto forward = [&](uint32_t s) { return Piece{block(int64_t{me} - s), bytes}; };
    auto consume = [&](uint32_t s, const void* incoming) { call.copy(block(int64_t{me} - s - 1), incoming, bytes); };
    co_return co_await ring_round(call, plan->slots.offset(half, 0), steps, forward, consume);
  });
}

Task<TransferResult> run(Call& call, Algorithm algorithm, const void* send, void* recv, size_t count, DType dtype) {
  const auto* in = static_cast<const uint8_t*>(send);
  auto* out = static_cast<uint8_t*>(recv);
  if (call.size() == 1) {
    call.copy(out, in, count * element_bytes(dtype));
    return completed();
  }
  return algorithm == Algorithm::kRing ? ring(call, in, out, count, dtype) : direct(call, in, out, count, dtype);
}

}  // namespace

Task<TransferResult> all_gather(Communicator& comm, const void* send, void* recv, size_t count, DType dtype,
                                Algorithm algorithm) {
  const uint64_t block = count * element_bytes(dtype);
  // The ring forwards from recv, so both buffers are sent from.
  return run_collective(comm, Collective::kAllGather, algorithm, block * comm.size(),
                        {{send, block}, {recv, block * comm.size()}},
                        [=](Call& call, Algorithm chosen) { return run(call, chosen, send, recv, count, dtype); });
}

}  // namespace ferry::coll
