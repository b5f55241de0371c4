// Symmetric regions from Python arrays: one buffer per rank, each registered with its
// engine and imported by every other, as the workloads that write into each other's
// memory (weights, MoE, pipeline) need them.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "python/ferry/_native/buffers.h"
#include "python/ferry/_native/core.h"
#include "transport/workloads/group.h"

namespace ferry::python {

// Lock held. `buffers[r]` is rank r's; all of one size. The registrations taken are
// added to `held`, for the operation to give back when it settles.
std::vector<SymmetricRegion> symmetric_regions(Core& core, const std::vector<Memory>& buffers,
                                               std::vector<Hold>& held);

// One group per rank over every rank of the cluster (their tag counters advance with
// the calls made on them).
std::vector<Group> all_ranks(Core& core);

}  // namespace ferry::python
