// CreditReturn: the receiver's credits go back to the sender one at a time.
//
// Each credit is a notification, posted only once the previous one completed (so every
// copy of it has landed). That is what lets the sender clear a credit tag before its next
// use (docs/pipeline-and-weights.md, "the tag rule"). Returning never blocks the
// receiver: a credit released while the previous one is still out waits in a queue and is
// posted from that one's completion.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "transport/engine/engine.h"

namespace ferry::pp {

class CreditReturn {
 public:
  CreditReturn(Engine& engine, std::string sender);

  // Queues the credit carried by `tag`.
  void give(uint16_t tag);
  // The first failure of a credit, if any; later credits are dropped after it.
  std::optional<TransferResult> error() const { return state_->error; }
  // Credits posted and completed.
  uint64_t returned() const { return state_->returned; }

 private:
  // Shared with the completions in flight: they may outlive the receiver.
  struct State {
    Engine* engine = nullptr;
    std::string sender;
    std::deque<uint16_t> queued;
    bool posting = false;
    uint64_t returned = 0;
    std::optional<TransferResult> error;
  };
  static void post_next(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_;
};

}  // namespace ferry::pp
