// Weight broadcast: one root's buffer to every rank of a group, cut into chunks that flow
// down a chain or a k-ary tree (BroadcastTree). A rank forwards chunk c to its children
// as soon as chunk c's notification came from its parent, without waiting for the rest,
// so every link of the tree carries data at once. An XXH64 checksum of the payload
// travels behind the last chunk; every rank checks it, then acknowledges up the tree, and
// the root's release travels back down:
//
//   TransferResult r = co_await broadcast(group, /*root=*/0, region, bytes, {.fanout = 2});
//
// returns ok on a rank only once every rank holds the root's bytes and verified them.
// Any failure (a rank gone, a checksum mismatch) ends every rank's call with an error,
// within the engine's deadline of the last wait (docs/pipeline-and-weights.md).
//
// Collective: every rank of the group calls it, in the same order as its other calls of
// TagSpace::kWeights, with the same root, bytes and options (the tags are allocated when
// broadcast() is called, not when the task starts).
#pragma once

#include <cstdint>

#include "transport/engine/engine.h"
#include "transport/engine/task.h"
#include "transport/workloads/group.h"

namespace ferry::weights {

struct BroadcastOptions {
  // 1: a chain; k: a k-ary tree.
  uint32_t fanout = 1;
  // Grown when needed so that a broadcast has at most kMaxChunks chunks. Up to the
  // engine's stripe threshold a chunk is one work request, its notification riding on it.
  uint64_t chunk_bytes = 256 << 10;
  // Writes out at once per child: enough to cover a round trip, few enough that a slow
  // link does not queue the whole buffer (each write's deadline starts when posted).
  uint32_t chunks_in_flight = 4;
  // Where the payload starts in the region.
  uint64_t offset = 0;
};

// Chunks of one broadcast, each with its own notification tag.
constexpr uint32_t kMaxChunks = 1024;
// The region holds the checksum right after the payload.
constexpr uint64_t kChecksumBytes = 8;

// `region`: the same registered buffer on every rank; the payload is [offset, offset +
// bytes) of the root's, and [offset + bytes, + kChecksumBytes) is overwritten everywhere.
// The engine and the memory must outlive the task; the group and region need not.
Task<TransferResult> broadcast(Group& group, uint32_t root, const SymmetricRegion& region, uint64_t bytes,
                               const BroadcastOptions& options = {});

}  // namespace ferry::weights
