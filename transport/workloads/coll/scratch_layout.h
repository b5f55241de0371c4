// How one round cuts its half of the scratch: into equal, 64-byte aligned slots. Slot i
// of a round sits at the same offset on every rank, so a peer writes "its" slot of this
// rank's scratch at the offset it computes for itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "transport/workloads/coll/communicator.h"
#include "transport/workloads/coll/completion.h"
#include "transport/workloads/coll/dtype.h"

namespace ferry::coll {

struct Slots {
  uint64_t bytes = 0;   // per slot
  size_t elements = 0;  // per slot
  // Offset in the scratch of slot `index` of the round whose half starts at `half`.
  uint64_t offset(uint64_t half, uint64_t index) const { return half + index * bytes; }
};

// `count` slots per round; nothing when a slot could not hold one element.
inline std::optional<Slots> slots_of(const Communicator& comm, uint64_t count, DType dtype) {
  Slots s;
  s.bytes = comm.round_bytes() / count / 64 * 64;
  s.elements = s.bytes / element_bytes(dtype);
  if (s.elements == 0) return std::nullopt;
  return s;
}

inline TransferResult scratch_too_small(const Communicator& comm, uint64_t slots) {
  return make_error(ErrorCode::kOutOfRange,
                    "a scratch of " + std::to_string(comm.scratch().bytes) + " bytes is too small: each half holds " +
                        std::to_string(slots) + " slots of at least one element and 64 bytes");
}

}  // namespace ferry::coll
