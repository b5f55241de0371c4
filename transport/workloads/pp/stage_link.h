// StageLink: what the two ends of a pipeline link agree on without talking: how many
// receive slots (credits) there are, how large a message may be, where each slot lies in
// the receiver's area, and which notification tags carry micro-batch `seq` and its credit.
//
// Both ends build the same StageLink; StageSender and StageReceiver then need no message
// besides the notifications of the protocol (docs/pipeline-and-weights.md).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "transport/engine/engine.h"
#include "transport/result.h"
#include "transport/workloads/group.h"

namespace ferry::pp {

// The header in front of each payload, written by the same write as the payload.
struct SlotHeader {
  uint64_t sequence = 0;
  uint64_t bytes = 0;
};

struct StageLink {
  // Tags of micro-batch seq repeat every kTagWindow micro-batches; see data_tag().
  static constexpr uint32_t kTagWindow = 64;
  // A tag must not come back while the credits let its previous use be outstanding.
  static constexpr uint32_t kMaxCredits = kTagWindow - 1;
  // Each link takes a data window and a credit window of TagSpace::kPipeline.
  static constexpr uint32_t kTagsPerLink = 2 * kTagWindow;
  static constexpr uint32_t kMaxLinks = kTagsPerSpace / kTagsPerLink;
  // The payload starts this far into its slot (cache-line aligned), right after the
  // header: one write carries both.
  static constexpr uint64_t kPayloadOffset = 64;
  static constexpr uint64_t kHeaderOffset = kPayloadOffset - sizeof(SlotHeader);
  // Micro-batches one sender may have in flight, whatever the credits (see max_in_flight()).
  static constexpr uint32_t kMaxInFlight = kTagWindow / 2;
  // Registered memory the sender writes headers from: one per micro-batch in flight.
  static constexpr uint64_t kSenderScratchBytes = kMaxInFlight * sizeof(SlotHeader);
  // The largest message a link may carry: keeps the receive area's size within 64 bits.
  static constexpr uint64_t kMaxMessageBytes = uint64_t{1} << 40;

  // Distinct among the links between the same two engines (either direction).
  uint16_t id = 0;
  // Receive slots: how many micro-batches may be sent and not yet released.
  uint32_t credits = 4;
  uint64_t max_message_bytes = 1 << 20;

  VoidResult validate() const;

  uint64_t slot_stride() const;
  // Bytes of registered memory the receiver provides for the slots.
  uint64_t receive_area_bytes() const { return credits * slot_stride(); }
  uint32_t slot(uint64_t sequence) const { return static_cast<uint32_t>(sequence % credits); }
  uint64_t slot_offset(uint64_t sequence) const { return slot(sequence) * slot_stride(); }
  // How many writes a sender may have out at once: no more than the slots, and few enough
  // that a data tag is cleared only once every write of its earlier uses completed
  // (in flight + credits <= kTagWindow; docs/pipeline-and-weights.md, "the tag rule").
  uint32_t max_in_flight() const { return credits < kTagWindow / 2 ? credits : kTagWindow - credits; }

  // The header the sender wrote in front of micro-batch `sequence`'s payload, read from
  // `bytes` (its first sizeof(SlotHeader) bytes, taken from kHeaderOffset of the slot):
  // refused unless it names that micro-batch and a payload that fits the slot.
  Result<SlotHeader> parse_header(std::span<const uint8_t> bytes, uint64_t sequence) const;

  // The notification saying that micro-batch `sequence` is in its slot (receiver counts
  // it from the sender), and the one returning its slot (sender counts it from the
  // receiver). Both repeat every kTagWindow micro-batches.
  uint16_t data_tag(uint64_t sequence) const { return tag(0, sequence); }
  uint16_t credit_tag(uint64_t sequence) const { return tag(kTagWindow, sequence); }

 private:
  uint16_t tag(uint32_t window, uint64_t sequence) const {
    return static_cast<uint16_t>(static_cast<uint32_t>(TagSpace::kPipeline) + id * kTagsPerLink + window +
                                 sequence % kTagWindow);
  }
};

// A failure seen by one end of a link, saying what that end was doing: "pipeline link 2
// to 'rank3', micro-batch 17, waiting for a credit: <the engine's message>".
inline TransferResult link_failure(ErrorCode code, const std::string& doing, const std::string& why) {
  return make_error(code, doing + ": " + why);
}
inline TransferResult link_failure(const TransferResult& why, const std::string& doing) {
  return link_failure(why.error().code, doing, why.error().message);
}

}  // namespace ferry::pp
