// Inbox: the messages one peer sends this rank during one call, taken in the order the
// peer sends them. Each message is one notification, counted by the engine
// (Engine::expect with a count of 1) and never inferred from arrival order.
//
// The engine forgets a tag's count when an expectation on it ends, and allows one
// expectation per (peer, tag) at a time. So the expectation for the next message is
// registered from the engine callback that ends the previous one, before this rank's
// coroutine runs on. With the protocols' rule that a peer's message k+1 needs something
// this rank did after observing message k-1, at most one notification is ever counted
// ahead of the expectation that takes it, so none is lost when the engine forgets the
// tag (docs/collectives.md, "Counting messages").
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
  // Gives up: an expectation still registered is released (after a failure).
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
