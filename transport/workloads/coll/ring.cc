#include "transport/workloads/coll/ring.h"

namespace ferry::coll {
namespace {

uint32_t successor(const Call& call) { return (call.rank() + 1) % call.size(); }
uint32_t predecessor(const Call& call) { return (call.rank() + call.size() - 1) % call.size(); }

}  // namespace

void expect_ring_rounds(Call& call, uint32_t steps, uint64_t rounds) {
  call.expect_from(predecessor(call), steps * rounds);       // data
  call.expect_from(successor(call), (steps - 1) * rounds);   // "slot free again"
}

Task<TransferResult> ring_round(Call& call, uint64_t incoming_offset, uint32_t steps, RingSendFn send,
                                RingConsumeFn consume) {
  const uint32_t next = successor(call);
  const uint32_t previous_rank = predecessor(call);
  const uint8_t* incoming = call.comm().scratch().local + incoming_offset;
  CompletionPtr previous_send;
  for (uint32_t step = 0; step < steps; ++step) {
    if (step > 0) {
      TransferResult freed = co_await call.arrival(next);
      if (!freed.ok()) co_return freed;
    }
    const Piece out = send(step);
    CompletionPtr sent = call.write(next, out.src, out.bytes, incoming_offset);
    TransferResult arrived = co_await call.arrival(previous_rank);
    if (!arrived.ok()) co_return arrived;
    if (previous_send) {  // consume may overwrite what the previous step sent
      TransferResult settled = co_await awaited(previous_send);
      if (!settled.ok()) co_return settled;
    }
    consume(step, incoming);
    if (step + 1 < steps) call.signal(previous_rank);
    previous_send = sent;
  }
  co_return TransferResult{};
}

}  // namespace ferry::coll
