// The ring: each rank writes to its successor and takes from its predecessor, one step
// after another, reducing or copying what it took. All-reduce, all-gather and
// reduce-scatter build their ring algorithms on one round of it.
#pragma once

#include <cstdint>
#include <functional>

#include "transport/engine/task.h"
#include "transport/workloads/coll/call.h"

namespace ferry::coll {

// What this rank sends at step s.
using RingSendFn = std::function<Piece(uint32_t step)>;
// Takes the predecessor's step-s data out of the incoming slot (reduce or copy).
using RingConsumeFn = std::function<void(uint32_t step, const void* incoming)>;

// Declares the messages `rounds` rounds of `steps` steps bring from both neighbours.
void expect_ring_rounds(Call& call, uint32_t steps, uint64_t rounds);

// One round of `steps` steps; the incoming slot sits at `incoming_offset` of every
// rank's scratch. At step s this rank
//   1. waits until its successor consumed step s-1 (a notification back: the slot is
//      the successor's only incoming slot),
//   2. writes send(s) into the successor's incoming slot,
//   3. waits for the predecessor's step-s data, consumes it, and tells the predecessor
//      its slot is free again (not after the last step: the next round uses the other
//      half of the scratch).
Task<TransferResult> ring_round(Call& call, uint64_t incoming_offset, uint32_t steps, RingSendFn send,
                                RingConsumeFn consume);

}  // namespace ferry::coll
