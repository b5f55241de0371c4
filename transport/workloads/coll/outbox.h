// Outbox: this rank's sends to one peer during one call, one after another.
//
// A send starts only once every earlier send to that peer completed at this rank, which
// by the fabric contract means its data and notification are in place at the peer. So a
// notification the peer counts always implies that the data of every earlier message
// from this rank is in place, whatever order the peer happens to count them in
// (docs/collectives.md, "Counting messages").
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "transport/workloads/coll/completion.h"

namespace ferry::coll {

class Outbox {
 public:
  using Start = std::function<Result<TransferId>(TransferDone)>;

  // `who` names the peer in error messages ("rank 3").
  explicit Outbox(std::string who);

  // Starts `start` once the earlier sends completed; after a failure, later sends are
  // not started and end with that failure.
  CompletionPtr send(Start start);

 private:
  struct State {
    std::string who;
    std::deque<std::pair<Start, CompletionPtr>> queue;
    bool busy = false;
    std::optional<TransferResult> failure;
  };
  static void pump(const std::shared_ptr<State>& state);

  std::shared_ptr<State> state_;
};

}  // namespace ferry::coll
