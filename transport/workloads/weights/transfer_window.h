// TransferWindow: transfers a coroutine starts without waiting for each, at most `limit`
// out at once. The coroutine awaits room() before starting one more (so a fast producer
// cannot queue a whole buffer behind one slow link, each piece aging toward its deadline)
// and drained() before it returns.
//
//   TransferWindow window(4);
//   for (...) {
//     co_await window.room();
//     window.start("chunk 3 to 'rank2'", [&](TransferDone done) { return engine.write(..., std::move(done));
//     });
//   }
//   co_await window.drained();
//   if (window.failure()) ...
//
// One coroutine waits on a window at a time. The window must be drained before it is
// destroyed: completions refer to it.
#pragma once

#include <coroutine>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "transport/engine/engine.h"

namespace ferry::weights {

class TransferWindow {
 public:
  using Start = std::function<Result<TransferId>(TransferDone)>;

  explicit TransferWindow(uint32_t limit) : limit_(limit) {}
  TransferWindow(const TransferWindow&) = delete;
  TransferWindow& operator=(const TransferWindow&) = delete;

  // Starts a transfer; a synchronous refusal counts as its failure. `what` names it in
  // the failure's message.
  void start(std::string what, const Start& begin);

  class Wait {
   public:
    Wait(TransferWindow& window, uint32_t below) : window_(window), below_(below) {}
    bool await_ready() const { return window_.out_ < below_; }
    void await_suspend(std::coroutine_handle<> waiter) {
      window_.waiter_ = waiter;
      window_.wake_below_ = below_;
    }
    void await_resume() const {}

   private:
    TransferWindow& window_;
    uint32_t below_;
  };
  // Resumes once fewer than `limit` transfers are out.
  Wait room() { return Wait(*this, limit_); }
  // Resumes once none is.
  Wait drained() { return Wait(*this, 1); }

  // The first transfer that failed, its message prefixed with its `what`.
  const std::optional<TransferResult>& failure() const { return failure_; }

 private:
  void finished(const std::string& what, const TransferResult& result);

  uint32_t limit_;
  uint32_t out_ = 0;
  std::coroutine_handle<> waiter_;
  uint32_t wake_below_ = 0;
  std::optional<TransferResult> failure_;
};

}  // namespace ferry::weights
