#include "transport/workloads/pp/credit_return.h"

#include <utility>

namespace ferry::pp {

CreditReturn::CreditReturn(Engine& engine, std::string sender) : state_(std::make_shared<State>()) {
  state_->engine = &engine;
  state_->sender = std::move(sender);
}

void CreditReturn::give(uint16_t tag) {
  if (state_->error) return;
  state_->queued.push_back(tag);
  if (!state_->posting) post_next(state_);
}

void CreditReturn::post_next(const std::shared_ptr<State>& state) {
  if (state->queued.empty() || state->error) return;
  const uint16_t tag = state->queued.front();
  state->queued.pop_front();
  state->posting = true;
  auto posted = state->engine->notify(state->sender, Notify{tag, 0}, [state](const TransferResult& r) {
    state->posting = false;
    if (!r.ok()) {
      state->error = r;
      state->queued.clear();
      return;
    }
    ++state->returned;
    post_next(state);
  });
  if (!posted.ok()) {
    state->posting = false;
    state->error = posted.error();
    state->queued.clear();
  }
}

}  // namespace ferry::pp
