// All-to-all of equal blocks, by direct writes.
#include <cstring>
#include <vector>

#include "transport/workloads/coll/call.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/partition.h"
#include "transport/workloads/coll/rounds.h"

namespace ferry::coll {
namespace {

// Every rank writes block j of its input into slot `rank` of rank j, and copies the
// slots into place once every peer's block arrived and its own writes completed (so
// that send may be recv).
Task<TransferResult> direct(Call& call, const uint8_t* send, uint8_t* recv, size_t count, DType dtype) {
  const uint32_t n = call.size(), me = call.rank();
  const auto plan = start_rounds(call, n, count, dtype, 1,
                                 [&](uint64_t rounds) { call.expect_from_every_peer(rounds); });
  if (!plan.ok()) co_return plan.error();
  const size_t esize = element_bytes(dtype);
  std::vector<CompletionPtr> sent(n);
  co_return co_await for_each_round(call, *plan, [&](Range range, uint64_t half) -> Task<TransferResult> {
    const uint64_t bytes = range.count * esize;
    auto offset = [&](uint32_t r) { return (r * count + range.first) * esize; };
    call.write_to_peers(plan->slots.offset(half, me),
                        [&](uint32_t p) { return Piece{send + offset(p), bytes}; }, &sent);
    TransferResult r = co_await call.arrivals_from_all();
    if (!r.ok()) co_return r;
    r = co_await all_settled(sent);
    if (!r.ok()) co_return r;
    call.copy(recv + offset(me), send + offset(me), bytes);
    for (uint32_t q = 0; q < n; ++q) {
      if (q != me) call.copy(recv + offset(q), plan->local(half, q), bytes);
    }
    co_return r;
  });
}

Task<TransferResult> run(Call& call, const void* send, void* recv, size_t count, DType dtype) {
  const auto* in = static_cast<const uint8_t*>(send);
  auto* out = static_cast<uint8_t*>(recv);
  if (call.size() == 1) {
    call.copy(out, in, count * element_bytes(dtype));
    return completed();
  }
  return direct(call, in, out, count, dtype);
}

}  // namespace

Task<TransferResult> all_to_all(Communicator& comm, const void* send, void* recv, size_t count, DType dtype) {
  const uint64_t total = count * element_bytes(dtype) * comm.size();
  return run_collective(comm, Collective::kAllToAll, Algorithm::kOneShot, total, {{send, total}},
                        [=](Call& call, Algorithm) { return run(call, send, recv, count, dtype); });
}

}  // namespace ferry::coll
