// All-reduce: one-shot, two-shot and ring (docs/collectives.md has each one's steps).
#include <cstring>
#include <vector>

#include "transport/workloads/coll/call.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/partition.h"
#include "transport/workloads/coll/ring.h"
#include "transport/workloads/coll/scratch_layout.h"

namespace ferry::coll {
namespace {

// Every rank writes its round into slot `rank` of every peer's scratch; each rank then
// reduces the n slots (its own data in its rank's place) itself. One latency, but n-1
// times the data out of every rank: the small-message path.
Task<TransferResult> one_shot(Call& call, uint8_t* data, size_t count, DType dtype, ReduceOp op) {
  Communicator& comm = call.comm();
  const uint32_t n = call.size(), me = call.rank();
  const auto slots = slots_of(comm, n, dtype);
  if (!slots) co_return scratch_too_small(comm, n);
  const size_t rounds = round_count(count, slots->elements);
  call.expect_from_every_peer(rounds);
  call.start();
  const size_t esize = element_bytes(dtype);
  std::vector<const void*> sources(n);
  std::vector<CompletionPtr> sent(n);
  for (size_t round = 0; round < rounds; ++round) {
    const Range range = round_range(count, slots->elements, round);
    const uint64_t half = comm.begin_round();
    uint8_t* mine = data + range.first * esize;
    for (uint32_t p = 0; p < n; ++p) {
      if (p != me) sent[p] = call.write(p, mine, range.count * esize, slots->offset(half, me));
    }
    TransferResult r = co_await call.arrivals_from_all();
    if (!r.ok()) co_return r;
    r = co_await all_settled(sent);  // the reduction overwrites what they send
    if (!r.ok()) co_return r;
    for (uint32_t q = 0; q < n; ++q) sources[q] = q == me ? mine : comm.scratch().local + slots->offset(half, q);
    reduce(mine, sources, range.count, dtype, op);
  }
  co_return TransferResult{};
}

// Reduce-scatter by direct writes (rank j owns chunk j and gets every peer's chunk j in
// its slot of the first n), then all-gather by direct writes (the owner writes its
// reduced chunk into its slot of the second n of every peer). Two latencies, and each
// rank sends 2(n-1)/n of the data.
Task<TransferResult> two_shot(Call& call, uint8_t* data, size_t count, DType dtype, ReduceOp op) {
  Communicator& comm = call.comm();
  const uint32_t n = call.size(), me = call.rank();
  const auto slots = slots_of(comm, 2 * n, dtype);
  if (!slots) co_return scratch_too_small(comm, 2 * n);
  const size_t per_round = slots->elements * n;
  const size_t rounds = round_count(count, per_round);
  call.expect_from_every_peer(2 * rounds);
  call.start();
  const size_t esize = element_bytes(dtype);
  std::vector<const void*> sources(n);
  std::vector<CompletionPtr> scattered(n);
  for (size_t round = 0; round < rounds; ++round) {
    const Range range = round_range(count, per_round, round);
    const uint64_t half = comm.begin_round();
    auto chunk = [&](uint32_t j) { return part(range.count, n, j); };
    auto at = [&](uint32_t j) { return data + (range.first + chunk(j).first) * esize; };
    for (uint32_t p = 0; p < n; ++p) {
      if (p != me) scattered[p] = call.write(p, at(p), chunk(p).count * esize, slots->offset(half, me));
    }
    TransferResult r = co_await call.arrivals_from_all();
    if (!r.ok()) co_return r;
    for (uint32_t q = 0; q < n; ++q) sources[q] = q == me ? at(me) : comm.scratch().local + slots->offset(half, q);
    reduce(at(me), sources, chunk(me).count, dtype, op);
    for (uint32_t p = 0; p < n; ++p) {
      if (p != me) call.write(p, at(me), chunk(me).count * esize, slots->offset(half, n + me));
    }
    r = co_await call.arrivals_from_all();
    if (!r.ok()) co_return r;
    r = co_await all_settled(scattered);  // the copies below overwrite what they sent
    if (!r.ok()) co_return r;
    for (uint32_t q = 0; q < n; ++q) {
      if (q != me) std::memcpy(at(q), comm.scratch().local + slots->offset(half, n + q), chunk(q).count * esize);
    }
  }
  co_return TransferResult{};
}

// Reduce-scatter around the ring (n-1 steps: a partial sum of one chunk passes to the
// successor, which adds its own), then all-gather around the ring (n-1 steps).
Task<TransferResult> ring(Call& call, uint8_t* data, size_t count, DType dtype, ReduceOp op) {
  Communicator& comm = call.comm();
  const uint32_t n = call.size(), me = call.rank();
  const auto slot = slots_of(comm, 1, dtype);
  if (!slot) co_return scratch_too_small(comm, 1);
  const size_t per_round = slot->elements * n;  // the largest chunk fills the slot
  const size_t rounds = round_count(count, per_round);
  const uint32_t steps = 2 * (n - 1);
  expect_ring_rounds(call, steps, rounds);
  call.start();
  const size_t esize = element_bytes(dtype);
  for (size_t round = 0; round < rounds; ++round) {
    const Range range = round_range(count, per_round, round);
    const uint64_t half = comm.begin_round();
    // Reduce-scatter step s sends chunk me-s-1 and adds into chunk me-s-2, so that rank r
    // ends owning chunk r; all-gather step s sends chunk me-s and copies chunk me-s-1.
    auto chunk = [&](int64_t position) { return part(range.count, n, ring_index(position, n)); };
    auto at = [&](const Range& c) { return data + (range.first + c.first) * esize; };
    auto send = [&](uint32_t s) {
      const Range c = s < n - 1 ? chunk(int64_t{me} - s - 1) : chunk(int64_t{me} - (s - (n - 1)));
      return RingSend{at(c), c.count * esize};
    };
    auto consume = [&](uint32_t s, const void* incoming) {
      if (s < n - 1) {
        const Range c = chunk(int64_t{me} - s - 2);
        const void* sources[] = {incoming, at(c)};
        reduce(at(c), sources, c.count, dtype, op);
      } else {
        const Range c = chunk(int64_t{me} - (s - (n - 1)) - 1);
        std::memcpy(at(c), incoming, c.count * esize);
      }
    };
    TransferResult r = co_await ring_round(call, slot->offset(half, 0), steps, send, consume);
    if (!r.ok()) co_return r;
  }
  co_return TransferResult{};
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
