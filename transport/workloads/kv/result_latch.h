// ResultLatch<T>: a value set once, that any number of coroutines can co_await.
//
// The engine's awaiters (task.h) wait for one transfer; the KV sides also need to let
// several waiters (a layer's consumers, whoever awaits the end of a request) share one
// outcome that the progress loop decides. set() resumes every waiter in turn, from the
// progress loop. A waiter whose coroutine is destroyed before the value came removes
// itself, so destroying a pending Task is safe.
#pragma once

#include <algorithm>
#include <coroutine>
#include <optional>
#include <utility>
#include <vector>

namespace ferry {

template <typename T>
class ResultLatch {
 public:
  bool ready() const { return value_.has_value(); }
  const T& value() const { return *value_; }

  // The first call sets the value and resumes the waiters; later calls do nothing.
  void set(T value) {
    if (value_) return;
    value_ = std::move(value);
    std::vector<std::coroutine_handle<>> waiters;
    waiters.swap(waiters_);
    for (std::coroutine_handle<> h : waiters) h.resume();
  }

  class Awaiter {
   public:
    explicit Awaiter(ResultLatch& latch) : latch_(latch) {}
    Awaiter(const Awaiter&) = delete;
    Awaiter& operator=(const Awaiter&) = delete;
    ~Awaiter() {
      if (waiting_) std::erase(latch_.waiters_, waiting_);
    }
    bool await_ready() const { return latch_.ready(); }
    void await_suspend(std::coroutine_handle<> h) {
      waiting_ = h;
      latch_.waiters_.push_back(h);
    }
    T await_resume() {
      waiting_ = nullptr;  // set() has taken it off the list
      return latch_.value();
    }

   private:
    ResultLatch& latch_;
    std::coroutine_handle<> waiting_;
  };
  // The awaiting coroutine must keep the latch alive until it resumes.
  Awaiter wait() { return Awaiter(*this); }

 private:
  std::optional<T> value_;
  std::vector<std::coroutine_handle<>> waiters_;
};

}  // namespace ferry
