#include "transport/workloads/coll/inbox.h"

#include <utility>

namespace ferry::coll {
namespace {

void arm(const std::shared_ptr<InboxState>& s) {
  if (s->remaining == 0 || s->failure || s->closed) return;
  --s->remaining;
  s->armed = true;
  const Notify message{s->tag, s->next_index++};  // wraps with the sender's numbering
  auto started = s->engine->expect_index(s->peer, message, [s](const TransferResult& r) {
    s->armed = false;
    if (s->closed) return;
    if (r.ok()) {
      ++s->arrived;
      arm(s);  // the next expectation exists before anything here reacts to this one
    } else {
      s->failure = make_error(r.error().code, "waiting for " + s->who + ": " + r.error().message);
    }
    if (auto w = std::exchange(s->waiter, {})) w.resume();
  });
  if (!started.ok()) {
    s->armed = false;
    s->failure = make_error(started.error().code, "waiting for " + s->who + ": " + started.error().message);
  }
}

}  // namespace

Inbox::Inbox(Engine& engine, std::string peer, std::string who, uint16_t tag, uint64_t messages)
    : state_(std::make_shared<InboxState>()) {
  state_->engine = &engine;
  state_->peer = std::move(peer);
  state_->who = std::move(who);
  state_->tag = tag;
  state_->remaining = messages;
}

void Inbox::open() { arm(state_); }

void Inbox::close() {
  if (state_->closed) return;
  state_->closed = true;
  state_->armed = false;
  state_->engine->release(state_->peer, state_->tag);  // a wait's callback finds the inbox closed
}

// Not armed with nothing arrived: no message can come (a protocol bug), so do not wait.
bool Inbox::Awaiter::await_ready() const {
  return s_->arrived > 0 || s_->failure || s_->closed || !s_->armed;
}

void Inbox::Awaiter::await_suspend(std::coroutine_handle<> h) { s_->waiter = h; }

TransferResult Inbox::Awaiter::await_resume() {
  if (s_->arrived > 0) {
    --s_->arrived;
    return TransferResult{};
  }
  if (s_->failure) return *s_->failure;
  if (s_->closed) return make_error(ErrorCode::kFailedPrecondition, "waiting for " + s_->who + ": the call was abandoned");
  return make_error(ErrorCode::kInternal, "waiting for " + s_->who + ": more messages taken than it sends");
}

}  // namespace ferry::coll
