#include "transport/workloads/weights/broadcast.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "transport/gpu/runtime.h"
#include "transport/workloads/weights/broadcast_tree.h"
#include "transport/workloads/weights/checksum.h"
#include "transport/workloads/weights/transfer_window.h"

namespace ferry::weights {
namespace {

// The payload in equal chunks (the last may be shorter), then the checksum as one more
// chunk, index data_chunks().
class ChunkPlan {
 public:
  ChunkPlan(uint64_t payload_offset, uint64_t bytes, uint64_t chunk_bytes)
      : payload_offset_(payload_offset),
        bytes_(bytes),
        chunk_bytes_(std::max(chunk_bytes, (bytes + kMaxChunks - 1) / kMaxChunks)) {}

  uint32_t data_chunks() const { return static_cast<uint32_t>((bytes_ + chunk_bytes_ - 1) / chunk_bytes_); }
  uint32_t checksum_chunk() const { return data_chunks(); }
  // Where chunk c lies in the region, and its length.
  uint64_t offset(uint32_t c) const { return payload_offset_ + std::min(bytes_, c * chunk_bytes_); }
  uint64_t length(uint32_t c) const {
    return c == checksum_chunk() ? kChecksumBytes : std::min(chunk_bytes_, bytes_ - c * chunk_bytes_);
  }

 private:
  uint64_t payload_offset_;
  uint64_t bytes_;
  uint64_t chunk_bytes_;
};

struct Child {
  std::string name;
  RemoteRegion region;
};

// One rank's part of a broadcast, copied out of the group and the region so that the
// task depends on neither.
struct RankPart {
  Engine* engine = nullptr;
  std::string context;  // "weights broadcast from rank 0, at rank 3"
  std::optional<std::string> parent;
  std::vector<Child> children;
  uint8_t* local = nullptr;
  // GPU memory is hashed, and the checksum written and read, through host copies.
  MemoryKind memory = MemoryKind::kHost;
  std::vector<uint8_t> staging;  // one chunk, for hashing GPU memory
  ChunkPlan plan{0, 0, 1};
  std::vector<uint16_t> chunk_tags;  // one per chunk, the checksum's last
  uint16_t ack_tag = 0;              // child to parent: my subtree holds and verified everything
  uint16_t release_tag = 0;          // parent to child: every rank did
  uint32_t window = 1;
};

// Errors name the broadcast and the rank first: "weights broadcast from rank 0, at rank
// 3: waiting for chunk 5 from 'rank1': <the engine's message>".
TransferResult failure(const std::string& context, ErrorCode code, const std::string& what) {
  return make_error(code, context + ": " + what);
}
TransferResult failure(const std::string& context, const TransferResult& why, const std::string& doing = "") {
  return failure(context, why.error().code, doing.empty() ? why.error().message : doing + ": " + why.error().message);
}

std::string chunk_name(const RankPart& part, uint32_t c) {
  return c == part.plan.checksum_chunk() ? std::string("the checksum") : "chunk " + std::to_string(c);
}

// Adds a chunk to the checksum; GPU memory is copied to the host first.
VoidResult hash_chunk(RankPart& part, const uint8_t* chunk, uint64_t length, Checksum& sum) {
  if (part.memory == MemoryKind::kHost) {
    sum.update({chunk, length});
    return {};
  }
  part.staging.resize(length);
  if (auto copied = gpu::copy(part.staging.data(), chunk, length); !copied.ok()) return copied;
  sum.update(part.staging);
  return {};
}

// Receives every chunk from the parent and forwards each to the children as soon as it
// is in place; the root only forwards. Returns the first failure.
Task<std::optional<TransferResult>> flow_down(RankPart& part, Checksum& sum) {
  Engine& engine = *part.engine;
  TransferWindow window(part.window * std::max<uint32_t>(1, static_cast<uint32_t>(part.children.size())));
  std::optional<TransferResult> failed;
  for (uint32_t c = 0; c <= part.plan.checksum_chunk() && !failed; ++c) {
    uint8_t* chunk = part.local + part.plan.offset(c);
    const uint64_t length = part.plan.length(c);
    if (part.parent) {
      TransferResult arrived = co_await arrival(engine, *part.parent, part.chunk_tags[c], 1);
      if (!arrived.ok()) {
        failed = failure(part.context, arrived,
                         "waiting for " + chunk_name(part, c) + " from '" + *part.parent + "'");
        break;
      }
    } else if (c == part.plan.checksum_chunk()) {
      const uint64_t value = sum.value();
      if (auto put = gpu::copy(chunk, &value, kChecksumBytes, part.memory); !put.ok()) {
        failed = failure(part.context, put, "writing the checksum");
        break;
      }
    }
    for (const Child& child : part.children) {
      co_await window.room();
      if (window.failure()) break;
      window.start("forwarding " + chunk_name(part, c) + " to '" + child.name + "'", [&](TransferDone done) {
        return engine.write(child.name, chunk, length, child.region, part.plan.offset(c),
                            Notify{part.chunk_tags[c], static_cast<uint16_t>(c)}, std::move(done));
      });
    }
    // Hashed after forwarding, so that the children's writes are already on the wire.
    if (c < part.plan.checksum_chunk()) {
      if (auto hashed = hash_chunk(part, chunk, length, sum); !hashed.ok()) {
        failed = failure(part.context, hashed, "hashing " + chunk_name(part, c));
      }
    }
    if (window.failure()) failed = failure(part.context, *window.failure());
  }
  co_await window.drained();  // every write settled: the memory is ours again
  if (!failed && window.failure()) failed = failure(part.context, *window.failure());
  co_return failed;
}

// Acknowledgements up the tree, then the root's release down: a rank returns ok only
// once every rank verified its bytes.
Task<std::optional<TransferResult>> agree_on_completion(RankPart& part) {
  Engine& engine = *part.engine;
  for (const Child& child : part.children) {
    TransferResult acked = co_await arrival(engine, child.name, part.ack_tag, 1);
    if (!acked.ok()) co_return failure(part.context, acked, "waiting for the subtree of '" + child.name + "'");
  }
  if (part.parent) {
    TransferResult acked = co_await transfer([&](TransferDone done) {
      return engine.notify(*part.parent, Notify{part.ack_tag, 0}, std::move(done));
    });
    if (!acked.ok()) co_return failure(part.context, acked, "acknowledging to '" + *part.parent + "'");
    TransferResult released = co_await arrival(engine, *part.parent, part.release_tag, 1);
    if (!released.ok()) {
      co_return failure(part.context, released, "waiting for the release from '" + *part.parent + "'");
    }
  }
  TransferWindow window(static_cast<uint32_t>(std::max<size_t>(1, part.children.size())));
  for (const Child& child : part.children) {
    window.start("releasing '" + child.name + "'", [&](TransferDone done) {
      return engine.notify(child.name, Notify{part.release_tag, 0}, std::move(done));
    });
  }
  co_await window.drained();
  if (window.failure()) co_return failure(part.context, *window.failure());
  co_return std::nullopt;
}

std::optional<TransferResult> verify(const RankPart& part, const Checksum& sum) {
  uint64_t sent = 0;
  const uint8_t* checksum = part.local + part.plan.offset(part.plan.checksum_chunk());
  if (auto read = gpu::copy(&sent, checksum, kChecksumBytes, part.memory); !read.ok()) {
    return failure(part.context, read, "reading the checksum");
  }
  if (sent == sum.value()) return std::nullopt;
  return failure(part.context, ErrorCode::kInternal,
                 "checksum mismatch: the bytes here hash to " + std::to_string(sum.value()) +
                     ", the root's to " + std::to_string(sent));
}

// A notification resent after a rail failover may land twice, and a copy landing after
// its wait ended would satisfy the next wait on that tag. After a successful broadcast no
// chunk notification can still land (every rank drained its writes before acknowledging),
// so clearing the tags now leaves them clean for their next use; the single ack and
// release rely on that next use being many broadcasts away (docs/pipeline-and-weights.md).
void forget_tags(const RankPart& part) {
  if (part.parent) {
    for (uint16_t tag : part.chunk_tags) part.engine->release(*part.parent, tag);
    part.engine->release(*part.parent, part.release_tag);
  }
  for (const Child& child : part.children) part.engine->release(child.name, part.ack_tag);
}

Task<TransferResult> run(RankPart part) {
  Checksum sum;
  std::optional<TransferResult> failed = co_await flow_down(part, sum);
  if (!failed && part.parent) failed = verify(part, sum);
  if (!failed) failed = co_await agree_on_completion(part);
  forget_tags(part);
  co_return failed ? *failed : TransferResult{};
}

Task<TransferResult> refused(TransferResult why) { co_return why; }

std::string describe(uint32_t root) { return "weights broadcast from rank " + std::to_string(root); }

std::optional<TransferResult> check_arguments(const Group& group, uint32_t root,
                                              const SymmetricRegion& region, uint64_t bytes,
                                              const BroadcastOptions& options) {
  const std::string context = describe(root);
  if (root >= group.size()) {
    return failure(context, ErrorCode::kOutOfRange,
                   "the group has " + std::to_string(group.size()) + " ranks");
  }
  if (options.fanout == 0 || options.chunk_bytes == 0 || options.chunks_in_flight == 0) {
    return failure(context, ErrorCode::kInvalidArgument,
                   "fanout, chunk_bytes and chunks_in_flight must be positive");
  }
  if (region.local == nullptr || region.remote.size() != group.size()) {
    return failure(context, ErrorCode::kInvalidArgument, "the region does not cover the group");
  }
  if (options.offset > region.bytes || region.bytes - options.offset < bytes ||
      region.bytes - options.offset - bytes < kChecksumBytes) {
    return failure(context, ErrorCode::kOutOfRange,
                   std::to_string(bytes) + " bytes and the checksum at offset " +
                       std::to_string(options.offset) + " do not fit a region of " +
                       std::to_string(region.bytes));
  }
  return std::nullopt;
}

}  // namespace

Task<TransferResult> broadcast(Group& group, uint32_t root, const SymmetricRegion& region, uint64_t bytes,
                               const BroadcastOptions& options) {
  if (auto invalid = check_arguments(group, root, region, bytes, options)) return refused(*invalid);
  const BroadcastTree tree(group.size(), root, options.fanout);
  RankPart part;
  part.engine = &group.engine();
  part.context = describe(root) + ", at rank " + std::to_string(group.rank());
  if (auto parent = tree.parent(group.rank())) part.parent = group.name(*parent);
  for (uint32_t child : tree.children(group.rank())) {
    part.children.push_back({group.name(child), region.remote[child]});
  }
  part.local = region.local;
  part.memory = gpu::query_pointer(region.local).kind;
  part.plan = ChunkPlan(options.offset, bytes, options.chunk_bytes);
  part.window = options.chunks_in_flight;
  // Allocated now, in call order, so that every rank agrees on them (the SPMD rule).
  for (uint32_t c = 0; c <= part.plan.checksum_chunk(); ++c) {
    part.chunk_tags.push_back(group.next_tag(TagSpace::kWeights));
  }
  part.ack_tag = group.next_tag(TagSpace::kWeights);
  part.release_tag = group.next_tag(TagSpace::kWeights);
  return run(std::move(part));
}

}  // namespace ferry::weights
