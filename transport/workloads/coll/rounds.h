// How a collective moves its elements through the scratch: in rounds, each on the other
// half of the scratch, each cut into the slots of scratch_layout.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "transport/engine/task.h"
#include "transport/workloads/coll/call.h"
#include "transport/workloads/coll/partition.h"
#include "transport/workloads/coll/scratch_layout.h"

namespace ferry::coll {

// `elements` elements moved in rounds of `per_round`, a whole number of slots.
struct Rounds {
  Slots slots;
  uint8_t* scratch = nullptr;  // this rank's
  size_t elements = 0;
  size_t per_round = 0;

  size_t count() const { return round_count(elements, per_round); }
  Range range(size_t round) const { return round_range(elements, per_round, round); }
  // Slot `index` of the round whose half starts at `half`, in this rank's scratch.
  uint8_t* local(uint64_t half, uint64_t index) const { return scratch + slots.offset(half, index); }
};

// Plans `elements` elements through `slot_count` slots a round, a round moving
// `slots_moved` slots' worth; declares with expect(rounds) what the peers send in all
// the rounds, and starts the call. An error when a slot cannot hold one element.
template <typename Expect>
Result<Rounds> start_rounds(Call& call, uint64_t slot_count, size_t elements, DType dtype, size_t slots_moved,
                            Expect expect) {
  Communicator& comm = call.comm();
  const auto slots = slots_of(comm, slot_count, dtype);
  if (!slots) return scratch_too_small(comm, slot_count).error();
  const Rounds plan{*slots, comm.scratch().local, elements, slots->elements * slots_moved};
  expect(plan.count());
  call.start();
  return plan;
}

// Runs body(range, half) for every round in order, each round on the next half of the
// scratch; the first failure ends them. The body is a coroutine taking its arguments by
// value.
template <typename Body>
Task<TransferResult> for_each_round(Call& call, const Rounds& plan, Body body) {
  for (size_t round = 0; round < plan.count(); ++round) {
    const Range range = plan.range(round);
    TransferResult r = co_await body(range, call.comm().begin_round());
    if (!r.ok()) co_return r;
  }
  co_return TransferResult{};
}

}  // namespace ferry::coll
