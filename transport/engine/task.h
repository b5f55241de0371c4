// Coroutines over the engine: the waiting style of workload code.
//
// A Task<T> is a lazily started coroutine. Workload code awaits transfers and
// expectations with co_await and reads top to bottom; underneath, the engine's
// callbacks resume it from inside Engine::progress(), so it runs on whatever thread (or
// virtual-time loop) drives the engines. Nothing here blocks.
//
//   Task<TransferResult> send_layer(Engine& e, ...) {
//     TransferResult r = co_await transfer([&](TransferDone done) {
//       return e.write("decode0", src, bytes, region, offset, Notify{req, layer}, std::move(done));
//     });
//     co_return r;
//   }
//   Task<TransferResult> t = send_layer(...);
//   t.start();
//   cluster.run_until([&] { return t.done(); });
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <utility>

#include "transport/engine/engine.h"

namespace ferry {

template <typename T>
class Task;

namespace detail {

struct PromiseBase {
  std::coroutine_handle<> continuation;
  std::exception_ptr exception;

  std::suspend_always initial_suspend() noexcept { return {}; }
  // At the end, hand control to whoever awaited this task (if anyone).
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      auto next = h.promise().continuation;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() { exception = std::current_exception(); }
};

template <typename T>
struct Promise : PromiseBase {
  std::optional<T> value;
  Task<T> get_return_object();
  void return_value(T v) { value = std::move(v); }
};

template <>
struct Promise<void> : PromiseBase {
  Task<void> get_return_object();
  void return_void() {}
};

}  // namespace detail

template <typename T = void>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::Promise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  explicit Task(Handle h) : handle_(h) {}
  Task(Task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  ~Task() {
    if (handle_) handle_.destroy();
  }

  // Runs a top-level task until its first wait; the progress loop does the rest.
  void start() {
    if (handle_ && !handle_.done()) handle_.resume();
  }
  bool done() const { return !handle_ || handle_.done(); }

  // The result of a finished task; rethrows what the coroutine threw.
  decltype(auto) result() {
    if (handle_.promise().exception) std::rethrow_exception(handle_.promise().exception);
    if constexpr (!std::is_void_v<T>) return *handle_.promise().value;
  }

  // Awaiting a task starts it and resumes the awaiter when it finishes.
  bool await_ready() const { return done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiter) {
    handle_.promise().continuation = awaiter;
    return handle_;
  }
  decltype(auto) await_resume() { return result(); }

 private:
  Handle handle_;
};

namespace detail {
template <typename T>
Task<T> Promise<T>::get_return_object() {
  return Task<T>(std::coroutine_handle<Promise<T>>::from_promise(*this));
}
inline Task<void> Promise<void>::get_return_object() {
  return Task<void>(std::coroutine_handle<Promise<void>>::from_promise(*this));
}
}  // namespace detail

// co_await transfer(start): calls start(done) to begin an engine transfer and resumes with
// its TransferResult. A synchronous refusal resumes at once with that error.
class TransferAwaiter {
 public:
  using Start = std::function<Result<TransferId>(TransferDone)>;
  explicit TransferAwaiter(Start start) : start_(std::move(start)) {}

  bool await_ready() const { return false; }
  bool await_suspend(std::coroutine_handle<> h) {
    auto started = start_([this, h](const TransferResult& r) {
      result_ = r;
      h.resume();
    });
    if (started.ok()) return true;
    result_ = started.error();
    return false;  // not suspended: resume right away
  }
  TransferResult await_resume() { return std::move(result_); }

 private:
  Start start_;
  TransferResult result_;
};

inline TransferAwaiter transfer(TransferAwaiter::Start start) { return TransferAwaiter(std::move(start)); }

// co_await arrival(engine, peer, tag, count): resumes with a TransferResult once `count`
// distinct notifications with `tag` came from `peer` (Engine::expect), or with the error
// that ended the wait (deadline, peer removed).
inline TransferAwaiter arrival(Engine& engine, std::string peer, uint16_t tag, uint32_t count) {
  return TransferAwaiter([&engine, peer = std::move(peer), tag, count](TransferDone done) {
    return engine.expect(peer, tag, count, std::move(done));
  });
}

}  // namespace ferry
