#include "transport/workloads/coll/communicator.h"

#include <utility>

#include "transport/gpu/runtime.h"

namespace ferry::coll {

Communicator::Communicator(Group& group, SymmetricRegion scratch)
    : group_(&group),
      scratch_(std::move(scratch)),
      memory_(gpu::query_pointer(scratch_.local).kind),
      round_bytes_(scratch_.bytes / 2 / 64 * 64) {}

Algorithm Communicator::resolve(Collective collective, Algorithm requested, uint64_t bytes) const {
  if (requested != Algorithm::kAuto) return requested;
  const Algorithm fastest = measured_fastest(collective, bytes, size());
  if (collective == Collective::kAllReduce && fastest == Algorithm::kOneShot &&
      bytes > round_bytes_ / size()) {
    return Algorithm::kTwoShot;  // one-shot in several rounds pays its latency each round
  }
  return fastest;
}

}  // namespace ferry::coll
