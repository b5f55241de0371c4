// All-reduce: one-shot, two-shot and ring (docs/collectives.md has each one's steps).
#include <cstring>
#include <vector>

#include "transport/workloads/coll/call.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/partition.h"
#include "transport/workloads/coll/ring.h"
#include "transport/workloads/coll/rounds.h"

namespace ferry::coll {
namespace {

// Every rank writes its round into slot `rank` of every peer's scratch; each rank then
// reduces the n slots (its own data in its rank's place) itself. One latency, but n-1
// times the data out of every rank: the small-message path.
Task<TransferResult> one_shot(Call& call, uint8_t* data, size_t count, DType dtype, ReduceOp op) {
  const uint32_t n = call.size(), me = call.rank();
  const auto plan = start_rounds(call, n, count, dtype, 1,
                                 [&](uint64_t rounds) { call.expect_from_every_peer(rounds); });
  if (!plan.ok()) co_return plan.error();
  const size_t esize = element_bytes(dtype);
  std::vector<const void*> sources(n);
  std::vector<CompletionPtr> sent(n);
  co_return co_await for_each_round(call, *plan, [&](Range range, uint64_t half) -> Task<TransferResult> {
    uint8_t* mine = data + range.first * esize;
    call.write_to_peers(plan->slots.offset(half, me),
                        [&](uint32_t) { return Piece{mine, range.count * esize}; }, &sent);
    TransferResult r = co_await call.arrivals_from_all();
    if (!r.ok()) co_return r;
    r = co_await all_settled(sent);  // the reduction overwrites what they send
    if (!r.ok()) co_return r;
    for (uint32_t q = 0; q < n; ++q) sources[q] = q == me ? mine : plan->local(half, q);
    call.reduce(mine, sources, range.count, dtype, op);
    co_return r;
  });
}

// Reduce-scatter by direct writes (rank j owns chunk j and gets every peer's chunk j in
// its slot of the first n), then all-gather by direct writes (the owner writes its
// reduced chunk into its slot of the second n of every peer). Two latencies, and each
// rank sends 2(n-1)/n of the data.
Task<TransferResult> two_shot(Call& call, uint8_t* data, size_t count, DType dtype, ReduceOp op) {
  const uint32_t n = call.size(), me = call.rank();
  const auto plan = start_rounds(call, 2 * n, count, dtype, n,
                                 [&](uint64_t rounds) { call.expect_from_every_peer(2 * rounds); });
  if (!plan.ok()) co_return plan.error();
  const size_t esize = element_bytes(dtype);
  std::vector<const void*> sources(n);
  std::vector<CompletionPtr> scattered(n);
  co_return co_await for_each_round(call, *plan, [&](Range range, uint64_t half) -> Task<TransferResult> {
    auto chunk = [&](uint32_t j) { return part(range.count, n, j); };
    auto at = [&](uint32_t j) { return data + (range.first + chunk(j).first) * esize; };
    call.write_to_peers(plan->slots.offset(half, me), [&](uint32_t p) { return Piece{at(p), chunk(p).count * esize}; },
                        &scattered);
    TransferResult r = co_await call.arrivals_from_all();
    if (!r.ok()) co_return r;
    for (uint32_t q = 0; q < n; ++q) sources[q] = q == me ? at(me) : plan->local(half, q);
    call.reduce(at(me), sources, chunk(me).count, dtype, op);
    call.write_to_peers(plan->slots.offset(half, n + me),
                        [&](uint32_t) { return Piece{at(me), chunk(me).count * esize}; });
    r = co_await call.arrivals_from_all();
    if (!r.ok()) co_return r;
    r = co_await all_settled(scattered);  // the copies below overwrite what they sent
    if (!r.ok()) co_return r;
    for (uint32_t q = 0; q < n; ++q) {
      if (q != me) call.copy(at(q), plan->local(half, n + q), chunk(q).count * esize);
    }
    co_return r;
  });
}

// Reduce-scatter around the ring (n-1 steps: a partial sum of one chunk passes to the
// successor, which adds its own), then all-gather around the ring (n-1 steps).
Task<TransferResult> ring(Call& call, uint8_t* data, size_t count, DType dtype, ReduceOp op) {
  const uint32_t n = call.size(), me = call.rank();
  const uint32_t steps = 2 * (n - 1);
  // A round moves n chunks; the largest fills the slot.
  const auto plan = start_rounds(call, 1, count, dtype, n,
                                 [&](uint64_t rounds) { expect_ring_rounds(call, steps, rounds); });
  if (!plan.ok()) co_return plan.error();
  const size_t esize = element_bytes(dtype);
  co_return co_await for_each_round(call, *plan, [&](Range range, uint64_t half) -> Task<TransferResult> {
    // Reduce-scatter step s sends chunk me-s-1 and adds into chunk me-s-2, so that rank r
    // ends owning chunk r; all-gather step s sends chunk me-s and copies chunk me-s-1.
    auto chunk = [&](int64_t position) { return part(range.count, n, ring_index(position, n)); };
    auto at = [&](const Range& c) { return data + (range.first + c.first) * esize; };
    auto send = [&](uint32_t s) {
      const Range c = s < n - 1 ? chunk(int64_t{me} - s - 1) : chunk(int64_t{me} - (s - (n - 1)));
      return Piece{at(c), c.count * esize};
    };
    auto consume = [&](uint32_t s, const void* incoming) {
      if (s < n - 1) {
        const Range c = chunk(int64_t{me} - s - 2);
        const void* sources[] = {incoming, at(c)};
        call.reduce(at(c), sources, c.count, dtype, op);
      } else {
        const Range c = chunk(int64_t{me} - (s - (n - 1)) - 1);
        call.copy(at(c), incoming, c.count * esize);
      }
    };
    co_return co_await ring_round(call, plan->slots.offset(half, 0), steps, send, consume);
  });
}

Task<TransferResult> run(Call& call, Algorithm algorithm, void* data, size_t count, DType dtype, ReduceOp op) {
  auto* bytes = static_cast<uint8_t*>(data);
  if (call.size() == 1) return completed();  // already its own sum
  switch (algorithm) {
    case Algorithm::kRing: return ring(call, bytes, count, dtype, op);
    case Algorithm::kTwoShot: return two_shot(call, bytes, count, dtype, op);
    default: return one_shot(call, bytes, count, dtype, op);
  }
}

}  // namespace

Task<TransferResult> all_reduce(Communicator& comm, void* data, size_t count, DType dtype, ReduceOp op,
                                Algorithm algorithm) {
  const uint64_t bytes = count * element_bytes(dtype);
  return run_collective(comm, Collective::kAllReduce, algorithm, bytes, {{data, bytes}},
                        [=](Call& call, Algorithm chosen) { return run(call, chosen, data, count, dtype, op); });
}

}  // namespace ferry::coll
