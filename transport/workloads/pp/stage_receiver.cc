#include "transport/workloads/pp/stage_receiver.h"

#include "transport/gpu/runtime.h"

#include <array>
#include <utility>

namespace ferry::pp {

StageReceiver::StageReceiver(Engine& engine, std::string sender, const StageLink& link, uint8_t* slots)
    : engine_(engine),
      sender_(sender),
      link_(link),
      slots_(slots),
      slots_memory_(gpu::query_pointer(slots).kind),
      credits_(engine, std::move(sender)) {}

Task<Result<Message>> StageReceiver::recv() {
  if (broken_) co_return *broken_;
  if (auto valid = link_.validate(); !valid.ok()) co_return valid.error();
  if (receiving_) {
    co_return Error{ErrorCode::kFailedPrecondition,
                    doing("receiving") + ": a recv is already in progress (one at a time)"};
  }
  release();
  // A credit that could not be returned leaves the sender waiting: report it here.
  if (auto failed = credits_.error()) co_return broken(link_failure(*failed, doing("returning a credit")));
  receiving_ = true;
  Result<Message> message = co_await receive_next();
  receiving_ = false;
  co_return message;
}

Task<Result<Message>> StageReceiver::receive_next() {
  const uint64_t sequence = next_sequence_;
  TransferResult arrived = co_await arrival(engine_, sender_, link_.data_tag(sequence), 1);
  if (!arrived.ok()) co_return broken(link_failure(arrived, doing("waiting for it")));

  const uint8_t* slot = slots_ + link_.slot_offset(sequence);
  std::array<uint8_t, sizeof(SlotHeader)> raw;
  if (auto read = gpu::copy(raw.data(), slot + StageLink::kHeaderOffset, raw.size(), slots_memory_); !read.ok()) {
    co_return broken(link_failure(read, doing("reading its slot's header")));
  }
  const Result<SlotHeader> header = link_.parse_header(raw, sequence);
  if (!header.ok()) {
    co_return broken(link_failure(header.error().code, doing("reading its slot"), header.error().message));
  }
  holding_ = true;
  ++next_sequence_;
  co_return Message{{slot + StageLink::kPayloadOffset, header->bytes}, sequence};
}

void StageReceiver::release() {
  if (!holding_) return;
  holding_ = false;
  const uint64_t sequence = next_sequence_ - 1;
  // The sender may reuse the slot once this credit arrives, and its next use of the data
  // tag of sequence + credits comes only after that. Every copy of the tag's earlier uses
  // has landed by now (the tag rule): clear what they left.
  engine_.release(sender_, link_.data_tag(sequence + link_.credits));
  credits_.give(link_.credit_tag(sequence));
  ++released_;
}

Error StageReceiver::broken(const TransferResult& why) {
  broken_ = why.error();
  return *broken_;
}

std::string StageReceiver::doing(const char* what) const {
  return "pipeline link " + std::to_string(link_.id) + " from '" + sender_ + "', micro-batch " +
         std::to_string(next_sequence_) + ", " + what;
}

}  // namespace ferry::pp
