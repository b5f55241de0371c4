// Broadcast from a root: direct (one-shot) and scatter + all-gather (two-shot).
#include <cstring>
#include <vector>

#include "transport/workloads/coll/call.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/partition.h"
#include "transport/workloads/coll/scratch_layout.h"

namespace ferry::coll {
namespace {

// The root gathers one "consumed" notification per rank and round. It needs nothing
// else from the others, so without them it could run rounds ahead and overwrite a slot
// not yet read (and a rank could see two of its notifications before expecting one).
void expect_consumed(Call& call, uint64_t rounds) { call.expect_from_every_peer(rounds); }

// The root writes the round into every other rank's slot 0; each copies it out and
// tells the root. One latency, n-1 copies out of the root.
Task<TransferResult> direct(Call& call, uint8_t* data, size_t count, DType dtype, uint32_t root) {
  Communicator& comm = call.comm();
  const uint32_t n = call.size(), me = call.rank();
  const auto slot = slots_of(comm, 1, dtype);
  if (!slot) co_return scratch_too_small(comm, 1);
  const size_t rounds = round_count(count, slot->elements);
  if (me == root) {
    expect_consumed(call, rounds);
  } else {
    call.expect_from(root, rounds);
  }
  call.start();
  const size_t esize = element_bytes(dtype);
  for (size_t round = 0; round < rounds; ++round) {
    const Range range = round_range(count, slot->elements, round);
    const uint64_t half = comm.begin_round();
    uint8_t* at = data + range.first * esize;
    if (me == root) {
      for (uint32_t p = 0; p < n; ++p) {
        if (p != root) call.write(p, at, range.count * esize, slot->offset(half, 0));
      }
      TransferResult r = co_await call.arrivals_from_all();
      if (!r.ok()) co_return r;
    } else {
      TransferResult r = co_await call.arrival(root);
      if (!r.ok()) co_return r;
      std::memcpy(at, comm.scratch().local + slot->offset(half, 0), range.count * esize);
      call.signal(root);
    }
  }
  co_return TransferResult{};
}

// The round is cut into one chunk per non-root rank. The root writes each chunk into its
// owner's slot; each owner copies it out and writes it into its slot of every other
// non-root; each non-root copies the others' chunks out and tells the root. Two
// latencies, and the root sends the data once.
Task<TransferResult> scatter_all_gather(Call& call, uint8_t* data, size_t count, DType dtype, uint32_t root) {
  Communicator& comm = call.comm();
  const uint32_t n = call.size(), me = call.rank();
  const auto slots = slots_of(comm, n, dtype);  // slot q holds non-root q's chunk
  if (!slots) co_return scratch_too_small(comm, n);
  const size_t per_round = slots->elements * (n - 1);
  const size_t rounds = round_count(count, per_round);
  if (me == root) {
    expect_consumed(call, rounds);
  } else {
    call.expect_from_every_peer(rounds);
  }
  call.start();
  const size_t esize = element_bytes(dtype);
  for (size_t round = 0; round < rounds; ++round) {
    const Range range = round_range(count, per_round, round);
    const uint64_t half = comm.begin_round();
    auto chunk = [&](uint32_t q) { return part(range.count, n - 1, q < root ? q : q - 1); };
    auto at = [&](uint32_t q) { return data + (range.first + chunk(q).first) * esize; };
    auto slot = [&](uint32_t q) { return comm.scratch().local + slots->offset(half, q); };
    if (me == root) {
      for (uint32_t q = 0; q < n; ++q) {
        if (q != root) call.write(q, at(q), chunk(q).count * esize, slots->offset(half, q));
      }
      TransferResult r = co_await call.arrivals_from_all();
      if (!r.ok()) co_return r;
      continue;
    }
    TransferResult r = co_await call.arrival(root);
    if (!r.ok()) co_return r;
    std::memcpy(at(me), slot(me), chunk(me).count * esize);
    for (uint32_t p = 0; p < n; ++p) {
      if (p != me && p != root) call.write(p, at(me), chunk(me).count * esize, slots->offset(half, me));
    }
    for (uint32_t q = 0; q < n; ++q) {
      if (q == me || q == root) continue;
      r = co_await call.arrival(q);
      if (!r.ok()) co_return r;
      std::memcpy(at(q), slot(q), chunk(q).count * esize);
    }
    call.signal(root);
  }
  co_return TransferResult{};
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
