// libFuzzer entry point for a pipeline slot's header, which the sending stage writes into
// the receiver's memory (tools/fuzz.sh builds it with clang and runs it;
// slot_header_fuzzer_test runs fixed inputs through it under Bazel's own toolchain).
//
// The input is a link (byte 0: credits, byte 1: id, bytes 2-9: max_message_bytes), the
// micro-batch expected (bytes 10-17), then what lies at kHeaderOffset of its slot, where
// the sender's one write put the header in front of the payload. A link that validates
// must lay its slots out within 64 bits and keep its senders' windows within the tag rule
// and the header scratch; a parsed header must name that micro-batch, put its payload
// inside the receive area, and be the bytes it was read from. A broken
// invariant aborts, which the fuzzer reports with the input that caused it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "transport/workloads/pp/stage_link.h"

namespace {

void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "slot header invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::pp;
  if (size < 18) return 0;
  StageLink link;
  link.credits = data[0];
  link.id = data[1];
  std::memcpy(&link.max_message_bytes, data + 2, 8);
  uint64_t sequence = 0;
  std::memcpy(&sequence, data + 10, 8);
  if (auto valid = link.validate(); !valid.ok()) {
    check(!valid.error().message.empty(), "an error has a message");
    return 0;
  }
  const uint64_t stride = link.slot_stride();
  check(stride >= StageLink::kPayloadOffset + link.max_message_bytes && stride % StageLink::kPayloadOffset == 0,
        "a slot holds the header and the largest payload, aligned");
  check(link.receive_area_bytes() / link.credits == stride, "the receive area's size does not wrap");
  check(StageLink::kHeaderOffset + sizeof(SlotHeader) == StageLink::kPayloadOffset,
        "the header lies right in front of the payload");
  const uint32_t window = link.max_in_flight();
  check(window >= 1 && window <= link.credits && window + link.credits <= StageLink::kTagWindow,
        "a sender's window fits the slots and the tag window");
  check(window * sizeof(SlotHeader) <= StageLink::kSenderScratchBytes, "a sender's headers fit its scratch");

  const std::span<const uint8_t> slot(data + 18, size - 18);
  auto header = link.parse_header(slot, sequence);
  if (!header.ok()) {
    check(!header.error().message.empty(), "an error has a message");
    return 0;
  }
  check(header->sequence == sequence, "the header names the micro-batch expected");
  check(link.slot_offset(sequence) + StageLink::kPayloadOffset + header->bytes <= link.receive_area_bytes(),
        "the payload lies inside the receive area");
  check(std::memcmp(&*header, slot.data(), sizeof(SlotHeader)) == 0, "the header is the bytes it was read from");
  return 0;
}
