#include "transport/workloads/pp/stage_sender.h"

#include "transport/gpu/runtime.h"

#include <utility>

namespace ferry::pp {

StageSender::StageSender(Engine& engine, std::string receiver, const StageLink& link, RemoteRegion slots,
                         uint64_t slots_offset, uint8_t* scratch)
    : engine_(engine),
      receiver_(std::move(receiver)),
      link_(link),
      slots_(slots),
      slots_offset_(slots_offset),
      scratch_(scratch),
      scratch_memory_(gpu::query_pointer(scratch).kind) {}

Task<TransferResult> StageSender::send(const void* data, uint64_t bytes) {
  if (broken_) co_return *broken_;
  if (auto valid = link_.validate(); !valid.ok()) {
    co_return link_failure(valid.error().code, doing("configuring"), valid.error().message);
  }
  if (sending_) {
    co_return link_failure(ErrorCode::kFailedPrecondition, doing("sending"),
                           "a send is already in progress (one at a time)");
  }
  if (bytes > link_.max_message_bytes) {
    co_return link_failure(
        ErrorCode::kOutOfRange, doing("sending"),
        std::to_string(bytes) + " bytes exceed the slot size of " + std::to_string(link_.max_message_bytes));
  }
  sending_ = true;
  TransferResult result = co_await send_next(data, bytes);
  sending_ = false;
  if (!result.ok()) broken_ = result;
  co_return result;
}

Task<TransferResult> StageSender::send_next(const void* data, uint64_t bytes) {
  const uint64_t sequence = next_sequence_;
  if (sequence >= link_.credits) {
    // Slot `sequence % credits` is free once the receiver released micro-batch
    // sequence - credits: bounded buffering, and the wait is the back-pressure.
    TransferResult credit =
        co_await arrival(engine_, receiver_, link_.credit_tag(sequence - link_.credits), 1);
    if (!credit.ok()) co_return link_failure(credit, doing("waiting for a free slot"));
  }
  // Whatever this credit tag holds now is a stale copy of an earlier use: the credit of
  // `sequence` cannot come before `sequence` is sent (the tag rule).
  engine_.release(receiver_, link_.credit_tag(sequence));

  const uint64_t slot = slots_offset_ + link_.slot_offset(sequence);
  if (bytes > 0) {
    TransferResult payload = co_await transfer([&](TransferDone done) {
      return engine_.write(receiver_, data, bytes, slots_, slot + StageLink::kPayloadOffset, std::nullopt,
                           std::move(done));
    });
    if (!payload.ok()) co_return link_failure(payload, doing("writing the payload"));
  }
  // The payload's write completed, so it is in place: the header's notification can
  // announce both, whatever order the fabric delivers in.
  const SlotHeader header{sequence, bytes};
  if (auto put = gpu::copy(scratch_, &header, sizeof header, scratch_memory_); !put.ok()) {
    co_return link_failure(put, doing("writing the header"));
  }
  TransferResult announced = co_await transfer([&](TransferDone done) {
    return engine_.write(receiver_, scratch_, sizeof header, slots_, slot,
                         Notify{link_.data_tag(sequence), 0}, std::move(done));
  });
  if (!announced.ok()) co_return link_failure(announced, doing("writing the header"));
  ++next_sequence_;
  co_return announced;
}

std::string StageSender::doing(const char* what) const {
  return "pipeline link " + std::to_string(link_.id) + " to '" + receiver_ + "', micro-batch " +
         std::to_string(next_sequence_) + ", " + what;
}

}  // namespace ferry::pp
