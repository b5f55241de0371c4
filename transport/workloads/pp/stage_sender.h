// StageSender: the sending end of a pipeline link. It writes micro-batch activations
// into the receiver's slots, one slot per credit, and waits when every slot is taken.
//
//   StageSender tx(engine, "stage2", link, slots_region, 0, scratch);
//   TransferResult sent = co_await tx.send(activation, bytes);   // one at a time
//
// or, several micro-batches in flight (buffers[m % n], n <= the window):
//
//   co_await tx.wait_sent(m + 1 - n);           // (m >= n) buffers[m % n] is free again
//   fill(buffers[m % n]);
//   TransferResult posted = co_await tx.post(buffers[m % n], bytes);
//   ...
//   co_await tx.wait_sent(tx.posted());         // all of them in place
//
// Micro-batches are numbered 0, 1, 2, ... in the order they are posted; the receiver gets
// them in that order. Each is one write (header and payload) carrying one notification.
// After an error the link is broken: every later call returns the same error.
#pragma once

#include <coroutine>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/engine/engine.h"
#include "transport/engine/task.h"
#include "transport/workloads/pp/stage_link.h"

namespace ferry::pp {

class StageSender {
 public:
  // Writes a sender keeps in flight unless told otherwise.
  static constexpr uint32_t kDefaultInFlight = 4;

  // `slots`: the receiver's slot area as this engine imported it, starting at
  // `slots_offset`. `scratch`: StageLink::kSenderScratchBytes of memory registered with
  // this engine, used only by this sender, kept until the engine stops using it.
  // `max_in_flight`: writes out at once, at most link.max_in_flight() (fewer are used if
  // it is larger).
  StageSender(Engine& engine, std::string receiver, const StageLink& link, RemoteRegion slots,
              uint64_t slots_offset, uint8_t* scratch, uint32_t max_in_flight = kDefaultInFlight);
  ~StageSender();
  StageSender(const StageSender&) = delete;
  StageSender& operator=(const StageSender&) = delete;

  // Starts the next micro-batch: waits for a free slot and for room in the window, then
  // posts its write and returns. `data` (registered with this engine, host or GPU memory,
  // bytes <= link.max_message_bytes) must stay unchanged until sent() counts it. One post
  // at a time.
  Task<TransferResult> post(const void* data, uint64_t bytes);
  // Resumes once the first `count` micro-batches are in the receiver's slots (count <=
  // posted()), or with the error that broke the link.
  Task<TransferResult> wait_sent(uint64_t count);
  // post(), then wait until this micro-batch is in its slot: the caller may then reuse
  // its buffer.
  Task<TransferResult> send(const void* data, uint64_t bytes);

  // Micro-batches posted, and those whose writes completed (all before them too).
  uint64_t posted() const { return next_sequence_; }
  uint64_t sent() const { return state_->sent; }
  uint32_t window() const { return window_; }
  const StageLink& link() const { return link_; }

 private:
  // What the writes' completions update: shared with them, since they may outlive a
  // sender whose link broke.
  struct State {
    uint64_t sent = 0;
    std::deque<bool> completed;  // micro-batches sent, sent + 1, ...: whether done
    std::optional<TransferResult> broken;
    struct Waiter {
      uint64_t count;
      std::coroutine_handle<> handle;
    };
    std::vector<Waiter> waiters;

    void finished(uint64_t sequence, const TransferResult& result);
    void wake();
  };
  struct SentAwaiter {
    State& state;
    uint64_t count;
    bool await_ready() const { return state.broken || state.sent >= count; }
    void await_suspend(std::coroutine_handle<> h) { state.waiters.push_back({count, h}); }
    void await_resume() const {}
  };

  Task<TransferResult> post_next(const void* data, uint64_t bytes);
  std::string doing(const char* what) const;
  TransferResult broken(const TransferResult& why);

  Engine& engine_;
  std::string receiver_;
  StageLink link_;
  RemoteRegion slots_;
  uint64_t slots_offset_;
  uint8_t* scratch_;
  MemoryKind scratch_memory_;  // GPU memory: headers are put there through a copy
  uint32_t window_;
  uint64_t next_sequence_ = 0;
  bool posting_ = false;
  std::shared_ptr<State> state_;
};

}  // namespace ferry::pp
