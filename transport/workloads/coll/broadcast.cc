// Broadcast from a root: direct (one-shot) and scatter + all-gather (two-shot).
#include <cstring>
#include <vector>

#include "transport/workloads/coll/call.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/partition.h"
#include "transport/workloads/coll/rounds.h"

namespace ferry::coll {
namespace {

// The root gathers one "consumed" notification per rank and round. It needs nothing
// else from the others, so without them it could run rounds ahead and overwrite a slot
// not yet read (and a rank could see two of its notifications before expecting one).
void expect_consumed(Call& call, uint64_t rounds) { call.expect_from_every_peer(rounds); }

// The root writes the round into every other rank's slot 0; each copies it out and
// tells the root. One latency, n-1 copies out of the root.
Task<TransferResult> direct(Call& call, uint8_t* data, size_t count, DType dtype, uint32_t root) {
  const uint32_t me = call.rank();
  const auto plan = start_rounds(call, 1, count, dtype, 1, [&](uint64_t rounds) {
    if (me == root) {
      expect_consumed(call, rounds);
    } else {
      call.expect_from(root, rounds);
    }
  });
  if (!plan.ok()) co_return plan.error();
  const size_t esize = element_bytes(dtype);
  co_return co_await for_each_round(call, *plan, [&](Range range, uint64_t half) -> Task<TransferResult> {
    uint8_t* at = data + range.first * esize;
    if (me == root) {
      call.write_to_peers(plan->slots.offset(half, 0), [&](uint32_t) { return Piece{at, range.count * esize}; });
      co_return co_await call.arrivals_from_all();
    }
    TransferResult r = co_await call.arrival(root);
    if (!r.ok()) co_return r;
    call.copy(at, plan->local(half, 0), range.count * esize);
    call.signal(root);
    co_return r;
  });
}

// The round is cut into one chunk per non-root rank. The root writes each chunk into its
// owner's slot; each owner copies it out and writes it into its slot of every other
// non-root; each non-root copies the others' chunks out and tells the root. Two
// latencies, and the root sends the data once.
Task<TransferResult> scatter_all_gather(Call& call, uint8_t* data, size_t count, DType dtype, uint32_t root) {
  const uint32_t n = call.size(), me = call.rank();
  // Slot q holds non-root q's chunk.
  const auto plan = start_rounds(call, n, count, dtype, n - 1, [&](uint64_t rounds) {
    if (me == root) {
      expect_consumed(call, rounds);
    } else {
      call.expect_from_every_peer(rounds);
    }
  });
  if (!plan.ok()) co_return plan.error();
  const size_t esize = element_bytes(dtype);
  co_return co_await for_each_round(call, *plan, [&](Range range, uint64_t half) -> Task<TransferResult> {
    auto chunk = [&](uint32_t q) { return part(range.count, n - 1, q < root ? q : q - 1); };
    auto at = [&](uint32_t q) { return data + (range.first + chunk(q).first) * esize; };
    if (me == root) {
      for (uint32_t q = 0; q < n; ++q) {
        if (q != root) call.write(q, at(q), chunk(q).count * esize, plan->slots.offset(half, q));
      }
      co_return co_await call.arrivals_from_all();
    }
    TransferResult r = co_await call.arrival(root);
    if (!r.ok()) co_return r;
    call.copy(at(me), plan->local(half, me), chunk(me).count * esize);
    for (uint32_t p = 0; p < n; ++p) {
      if (p != me && p != root) call.write(p, at(me), chunk(me).count * esize, plan->slots.offset(half, me));
    }
    for (uint32_t q = 0; q < n; ++q) {
      if (q == me || q == root) continue;
      r = co_await call.arrival(q);
      if (!r.ok()) co_return r;
      call.copy(at(q), plan->local(half, q), chunk(q).count * esize);
    }
    call.signal(root);
    co_return r;
  });
}

Task<TransferResult> run(Call& call, Algorithm algorithm, void* data, size_t count, DType dtype, uint32_t root) {
  auto* bytes = static_cast<uint8_t*>(data);
  if (call.size() == 1) return completed();
  return algorithm == Algorithm::kTwoShot ? scatter_all_gather(call, bytes, count, dtype, root)
                                          : direct(call, bytes, count, dtype, root);
}

}  // namespace

Task<TransferResult> broadcast(Communicator& comm, void* data, size_t count, DType dtype, uint32_t root,
                               Algorithm algorithm) {
  if (root >= comm.size()) {
    return completed(make_error(ErrorCode::kInvalidArgument,
                                "broadcast root " + std::to_string(root) + " of " + std::to_string(comm.size()) + " ranks"));
  }
  const uint64_t bytes = count * element_bytes(dtype);
  return run_collective(comm, Collective::kBroadcast, algorithm, bytes, {{data, bytes}},
                        [=](Call& call, Algorithm chosen) { return run(call, chosen, data, count, dtype, root); });
}

}  // namespace ferry::coll
