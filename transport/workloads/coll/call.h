// Call: one collective call on one rank, and the messages it exchanges with its peers.
//
// The call takes one tag (Group::next_tag(TagSpace::kCollectives)), so every rank's
// call agrees on it. Every message of the call (a write into a peer's scratch, or a
// bare notification) carries Notify{tag, index}, the index numbering the messages from
// this rank to that peer. A message from a peer is learned only by counting its
// notification (Inbox); sends to one peer go one after another (Outbox).
//
//   Call call(comm, Collective::kAllReduce, Algorithm::kRing);
//   call.expect_from(peer, messages);          // for every peer, before start()
//   call.start();
//   call.write(peer, src, bytes, offset);       // into the peer's scratch
//   TransferResult r = co_await call.arrival(peer);
//   co_return co_await call.finish(r);          // waits for every send, names failures
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "transport/engine/task.h"
#include "transport/workloads/coll/algorithm.h"
#include "transport/workloads/coll/communicator.h"
#include "transport/workloads/coll/completion.h"
#include "transport/workloads/coll/dtype.h"
#include "transport/workloads/coll/inbox.h"
#include "transport/workloads/coll/outbox.h"
#include "transport/workloads/coll/reduction.h"

namespace ferry::coll {

// Bytes a rank sends: [src, src + bytes).
struct Piece {
  const void* src = nullptr;
  uint64_t bytes = 0;
};

class Call {
 public:
  // `algorithm` is one `collective` supports (checked by the caller, before any tag is
  // taken, so that a refused call leaves every rank's tags in step).
  Call(Communicator& comm, Collective collective, Algorithm algorithm);
  ~Call();
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

  Communicator& comm() const { return *comm_; }
  uint32_t rank() const { return comm_->rank(); }
  uint32_t size() const { return comm_->size(); }

  // Checks made before anything moves: the communicator is usable, and every buffer the
  // call sends from lies in memory registered with the engine (registered here if not:
  // the engine's cache keeps it, and the caller deregisters it when freeing it).
  TransferResult prepare(const std::vector<std::pair<const void*, uint64_t>>& send_buffers);

  // How many messages `peer` sends this rank in the whole call; before start().
  void expect_from(uint32_t peer, uint64_t messages);
  // The same number from every peer.
  void expect_from_every_peer(uint64_t messages);
  // Registers the first expectation of every peer: before this rank's first send.
  void start();

  // Writes [src, src + bytes) into `peer`'s scratch at `scratch_offset`, with the call's
  // notification; an empty write is a bare notification, so that it still counts.
  CompletionPtr write(uint32_t peer, const void* src, uint64_t bytes, uint64_t scratch_offset);
  // Writes piece(peer) into every peer's scratch at `scratch_offset`; each write's
  // completion lands in (*sent)[peer] when `sent` is given.
  template <typename PieceOf>
  void write_to_peers(uint64_t scratch_offset, PieceOf piece, std::vector<CompletionPtr>* sent = nullptr) {
    for (uint32_t p = 0; p < size(); ++p) {
      if (p == rank()) continue;
      const Piece what = piece(p);
      CompletionPtr done = write(p, what.src, what.bytes, scratch_offset);
      if (sent != nullptr) (*sent)[p] = std::move(done);
    }
  }
  // The call's local steps, where the communicator's memory is (local_steps.h). The first
  // failure ends the call with an error at finish().
  void copy(void* dst, const void* src, uint64_t bytes);
  void reduce(void* dst, std::span<const void* const> sources, size_t count, DType dtype, ReduceOp op);

  // A bare notification: "what you sent me is consumed" and the like.
  CompletionPtr signal(uint32_t peer);

  // The next message from `peer`: ok once its data is in place.
  Inbox::Awaiter arrival(uint32_t peer) { return inboxes_[peer].next(); }
  // The next message from every peer, in rank order; the first failure if any.
  Task<TransferResult> arrivals_from_all();

  // Ends the call with `result`: waits until every send settled (their sources must
  // stay untouched until then), gives up any expectation still registered, and on
  // failure names the collective and the rank, and marks the communicator broken.
  Task<TransferResult> finish(TransferResult result);

 private:
  // Starts one transfer to the peer that carries the call's notification.
  using Message = std::function<Result<TransferId>(Engine&, const std::string& peer, Notify, TransferDone)>;
  // Numbers the message and queues it in the peer's outbox.
  CompletionPtr queue(uint32_t peer, Message message);

  Communicator* comm_;
  Collective collective_;
  Algorithm algorithm_;
  uint16_t tag_;
  std::vector<uint64_t> expected_;  // messages each rank sends this one, by rank
  std::vector<Inbox> inboxes_;      // by rank, from start(); this rank's own stays empty
  std::vector<Outbox> outboxes_;   // by rank
  std::vector<uint64_t> indices_;  // next notification index, by rank
  TransferResult local_failure_;   // the first local step that failed
  std::vector<CompletionPtr> sends_;
};

std::string rank_label(uint32_t rank);

// A task that is done at once with `result`.
Task<TransferResult> completed(TransferResult result = {});

// Waits for every send in `sends` (null entries skipped); the first failure if any.
Task<TransferResult> all_settled(std::vector<CompletionPtr> sends);

// What every collective does around its algorithm: picks the algorithm (kAuto: by
// `bytes`, the message size as nccl-tests counts it), refuses one the collective lacks
// before a tag is taken, checks the communicator and registers `send_buffers`, runs
// `body` in a Call, and finishes the call.
using CollectiveBody = std::function<Task<TransferResult>(Call& call, Algorithm algorithm)>;
Task<TransferResult> run_collective(Communicator& comm, Collective collective, Algorithm requested,
                                    uint64_t bytes, std::vector<std::pair<const void*, uint64_t>> send_buffers,
                                    CollectiveBody body);

}  // namespace ferry::coll
