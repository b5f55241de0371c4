#include "transport/workloads/coll/outbox.h"

#include <utility>

namespace ferry::coll {

Outbox::Outbox(std::string who) : state_(std::make_shared<State>()) { state_->who = std::move(who); }

CompletionPtr Outbox::send(Start start) {
  auto completion = std::make_shared<Completion>();
  state_->queue.emplace_back(std::move(start), completion);
  pump(state_);
  return completion;
}

void Outbox::pump(const std::shared_ptr<State>& state) {
  while (!state->busy && !state->queue.empty()) {
    auto [start, completion] = std::move(state->queue.front());
    state->queue.pop_front();
    if (state->failure) {
      completion->finish(*state->failure);
      continue;
    }
    state->busy = true;
    auto started = start([state, completion](const TransferResult& r) {
      state->busy = false;
      if (!r.ok() && !state->failure) {
        state->failure = make_error(r.error().code, "sending to " + state->who + ": " + r.error().message);
      }
      pump(state);  // the next send goes out before the awaiting coroutine runs on
      completion->finish(r.ok() ? r : *state->failure);
    });
    if (!started.ok()) {
      state->busy = false;
      state->failure = make_error(started.error().code, "sending to " + state->who + ": " + started.error().message);
      completion->finish(*state->failure);
    }
  }
}

}  // namespace ferry::coll
