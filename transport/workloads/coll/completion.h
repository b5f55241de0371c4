// Completion: the outcome of something that ends later (a send, a message expected from
// a peer), shared between the engine callback that ends it and the one coroutine that
// awaits it. Shared ownership lets a callback outlive the coroutine frame.
#pragma once

#include <coroutine>
#include <memory>
#include <utility>

#include "transport/engine/engine.h"

namespace ferry::coll {

struct Completion {
  bool done = false;
  TransferResult result;
  std::coroutine_handle<> waiter;

  void finish(TransferResult r) {
    done = true;
    result = std::move(r);
    if (auto w = std::exchange(waiter, {})) w.resume();
  }
};

using CompletionPtr = std::shared_ptr<Completion>;

// co_await awaited(c): resumes with c's result once it is done.
class CompletionAwaiter {
 public:
  explicit CompletionAwaiter(CompletionPtr c) : c_(std::move(c)) {}
  bool await_ready() const { return c_->done; }
  void await_suspend(std::coroutine_handle<> h) { c_->waiter = h; }
  TransferResult await_resume() const { return c_->result; }

 private:
  CompletionPtr c_;
};

inline CompletionAwaiter awaited(CompletionPtr c) { return CompletionAwaiter(std::move(c)); }

}  // namespace ferry::coll
