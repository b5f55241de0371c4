// Inbox: the messages one peer sends this rank during one call, taken in the order the
// peer sends them. Message k is the notification (tag, k) (Call numbers them), waited
// for with Engine::expect_index and never inferred from arrival order.
//
// The engine allows one wait per (peer, tag) at a time, so the wait for the next message
// is registered from the engine callback that ends the previous one, before this rank's
// coroutine runs on. A wait on one index keeps what landed until the tag is released,
// so a message that came ahead of its wait is taken at once, and a late second copy of
// message k (a resend after an ambiguous failure, a duplicate delivery) is dropped
// instead of being taken for message k+1. close() releases the tag
// (docs/collectives.md, "Counting messages").
#pragma once

#include <coroutine>
#include <memory>
#include <optional>
#include <string>

#include "transport/workloads/coll/completion.h"

namespace ferry::coll {

struct InboxState {
  Engine* engine = nullptr;
  std::string peer;
  std::string who;
  uint16_t tag = 0;
  uint16_t next_index = 0;  // the index of the next message to wait for
  uint64_t remaining = 0;  // messages not yet expected
  uint64_t arrived = 0;    // observed, not yet taken
  bool armed = false;      // an expectation is registered
  bool closed = false;
  std::optional<TransferResult> failure;
  std::coroutine_handle<> waiter;
};

class Inbox {
 public:
  // `messages`: how many the peer sends in the whole call. `who` names it in errors.
  Inbox(Engine& engine, std::string peer, std::string who, uint16_t tag, uint64_t messages);

  // Registers the expectation of the first message; before this rank sends anything.
  void open();
  // Ends the inbox: the tag is released (a wait still registered fails quietly).
  void close();
  // Every message was taken.
  bool drained() const { return state_->remaining == 0 && state_->arrived == 0 && !state_->armed; }

  class Awaiter {
   public:
    explicit Awaiter(std::shared_ptr<InboxState> s) : s_(std::move(s)) {}
    bool await_ready() const;
    void await_suspend(std::coroutine_handle<> h);
    TransferResult await_resume();

   private:
    std::shared_ptr<InboxState> s_;
  };
  // The next message: ok once it is in place, or the failure that ended the wait.
  Awaiter next() { return Awaiter(state_); }

 private:
  std::shared_ptr<InboxState> state_;
};


}  // namespace ferry::coll
