// TransferBatch: several engine transfers awaited as one. start() begins each under a
// caller's label; `co_await batch` resumes once every one of them has ended, with the
// first failure (or success), and failed_label() says which transfer that was.
//
// It waits for all, not only for the first failure: every callback refers to the batch,
// and the memory the transfers read must stay untouched until the engine is done with
// it. Each transfer has a deadline, so the wait is bounded.
#pragma once

#include <coroutine>
#include <cstdint>
#include <optional>
#include <utility>

#include "transport/engine/engine.h"

namespace ferry::moe {

class TransferBatch {
 public:
  TransferBatch() = default;
  TransferBatch(const TransferBatch&) = delete;
  TransferBatch& operator=(const TransferBatch&) = delete;

  // begin(done) starts one engine transfer and returns its Result<TransferId>; a
  // synchronous refusal counts as that transfer's failure.
  template <typename Begin>
  void start(uint64_t label, Begin&& begin) {
    ++pending_;
    // Two words of capture: small enough for std::function to hold without allocating.
    Result<TransferId> started = begin([this, label](const TransferResult& r) { finished(label, r); });
    if (!started.ok()) {
      --pending_;
      note(label, started.error());
    }
  }
  uint64_t failed_label() const { return failed_label_; }

  bool await_ready() const { return pending_ == 0; }
  void await_suspend(std::coroutine_handle<> waiter) { waiter_ = waiter; }
  TransferResult await_resume() const { return first_failure_ ? *first_failure_ : TransferResult{}; }

 private:
  void note(uint64_t label, const TransferResult& r) {
    if (r.ok() || first_failure_) return;
    first_failure_ = r;
    failed_label_ = label;
  }
  void finished(uint64_t label, const TransferResult& r) {
    note(label, r);
    if (--pending_ == 0 && waiter_) std::exchange(waiter_, {}).resume();
  }

  uint32_t pending_ = 0;
  std::optional<TransferResult> first_failure_;
  uint64_t failed_label_ = 0;
  std::coroutine_handle<> waiter_;
};

}  // namespace ferry::moe
