#include "transport/workloads/pp/stage_sender.h"

#include "transport/gpu/runtime.h"

#include <algorithm>
#include <span>
#include <utility>

namespace ferry::pp {

StageSender::StageSender(Engine& engine, std::string receiver, const StageLink& link, RemoteRegion slots,
                         uint64_t slots_offset, uint8_t* scratch, uint32_t max_in_flight)
    : engine_(engine),
      receiver_(std::move(receiver)),
      link_(link),
      slots_(slots),
      slots_offset_(slots_offset),
      scratch_(scratch),
      scratch_memory_(gpu::query_pointer(scratch).kind),
      window_(std::max(1u, std::min(max_in_flight, link.max_in_flight()))),
      state_(std::make_shared<State>()) {}

// Completions that come later find no waiter to resume.
StageSender::~StageSender() { state_->waiters.clear(); }

Task<TransferResult> StageSender::post(const void* data, uint64_t bytes) {
  if (state_->broken) co_return *state_->broken;
  if (auto valid = link_.validate(); !valid.ok()) {
    co_return link_failure(valid.error().code, doing("configuring"), valid.error().message);
  }
  if (posting_) {
    co_return link_failure(ErrorCode::kFailedPrecondition, doing("sending"),
                           "a send is already in progress (one at a time)");
  }
  if (bytes > link_.max_message_bytes) {
    co_return link_failure(
        ErrorCode::kOutOfRange, doing("sending"),
        std::to_string(bytes) + " bytes exceed the slot size of " + std::to_string(link_.max_message_bytes));
  }
  posting_ = true;
  TransferResult result = co_await post_next(data, bytes);
  posting_ = false;
  if (!result.ok()) co_return broken(result);
  co_return result;
}

Task<TransferResult> StageSender::wait_sent(uint64_t count) {
  if (count > next_sequence_) {
    co_return link_failure(ErrorCode::kInvalidArgument, doing("waiting for sends"),
                           "waiting for " + std::to_string(count) + " micro-batches, only " +
                               std::to_string(next_sequence_) + " posted");
  }
  co_await SentAwaiter{*state_, count};
  if (state_->broken) co_return *state_->broken;
  co_return TransferResult{};
}

Task<TransferResult> StageSender::send(const void* data, uint64_t bytes) {
  TransferResult posted = co_await post(data, bytes);
  if (!posted.ok()) co_return posted;
  co_return co_await wait_sent(next_sequence_);
}

Task<TransferResult> StageSender::post_next(const void* data, uint64_t bytes) {
  const uint64_t sequence = next_sequence_;
  if (sequence >= link_.credits) {
    // Slot `sequence % credits` is free once the receiver released micro-batch
    // sequence - credits: bounded buffering, and the wait is the back-pressure.
    TransferResult credit =
        co_await arrival(engine_, receiver_, link_.credit_tag(sequence - link_.credits), 1);
    if (!credit.ok()) co_return link_failure(credit, doing("waiting for a free slot"));
  }
  if (sequence >= window_) {
    // Room in the window: the write of sequence - window completed, so its header
    // scratch is free and at most `window_` writes are out (the tag rule counts on it).
    co_await SentAwaiter{*state_, sequence - window_ + 1};
    if (state_->broken) co_return *state_->broken;
  }
  // Whatever this credit tag holds now is a stale copy of an earlier use: the credit of
  // `sequence` cannot come before `sequence` is sent (the tag rule).
  engine_.release(receiver_, link_.credit_tag(sequence));

  uint8_t* header_at = scratch_ + sequence % window_ * sizeof(SlotHeader);
  const SlotHeader header{sequence, bytes};
  if (auto put = gpu::copy(header_at, &header, sizeof header, scratch_memory_); !put.ok()) {
    co_return link_failure(put, doing("writing the header"));
  }
  // Header and payload in one write, its notification the micro-batch's data tag: the
  // notification lands only once both are in place, whatever order the fabric delivers in.
  const WriteSource sources[] = {{header_at, sizeof header}, {data, bytes}};
  const uint64_t slot = slots_offset_ + link_.slot_offset(sequence);
  state_->completed.push_back(false);
  auto started = engine_.write_gather(
      receiver_, std::span(sources, bytes > 0 ? 2 : 1), slots_, slot + StageLink::kHeaderOffset,
      Notify{link_.data_tag(sequence), 0},
      [state = state_, sequence, what = doing("writing it")](const TransferResult& r) {
        state->finished(sequence, r.ok() ? r : link_failure(r, what));
      });
  if (!started.ok()) {
    state_->completed.pop_back();
    co_return link_failure(started.error(), doing("writing it"));
  }
  ++next_sequence_;
  co_return TransferResult{};
}

void StageSender::State::finished(uint64_t sequence, const TransferResult& result) {
  if (!result.ok() && !broken) broken = result;
  if (sequence >= sent && sequence - sent < completed.size()) completed[sequence - sent] = result.ok();
  while (!completed.empty() && completed.front()) {
    completed.pop_front();
    ++sent;
  }
  wake();
}

void StageSender::State::wake() {
  // A resumed coroutine may add waiters: take out those that are due first.
  std::vector<Waiter> due;
  std::erase_if(waiters, [&](const Waiter& w) {
    if (!broken && sent < w.count) return false;
    due.push_back(w);
    return true;
  });
  for (const Waiter& w : due) w.handle.resume();
}

TransferResult StageSender::broken(const TransferResult& why) {
  const std::shared_ptr<State> state = state_;  // a woken coroutine may end this sender
  if (!state->broken) state->broken = why;
  state->wake();
  return *state->broken;
}

std::string StageSender::doing(const char* what) const {
  return "pipeline link " + std::to_string(link_.id) + " to '" + receiver_ + "', micro-batch " +
         std::to_string(next_sequence_) + ", " + what;
}

}  // namespace ferry::pp
