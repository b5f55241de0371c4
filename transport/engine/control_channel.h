// ControlChannel: two-sided control messages to one peer.
//
// A message is copied into one of a fixed number of registered send slots, with a
// header (magic, sequence number, length), and sent; the slot is free again once the
// send completed. The receiver delivers messages in sequence order and drops any number
// it has seen, so a message resent on another rail after a failover arrives once.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "transport/engine/memory_registry.h"

namespace ferry::engine_internal {

inline constexpr size_t kMessageHeader = 4 + 8 + 4;  // magic, sequence number, payload length
// How far ahead of the next expected message one may arrive and be kept: a sender has at
// most its control_slots in flight (the engine keeps that below this), so a message
// further ahead is not a peer's and is dropped, which bounds what a peer can make us hold.
inline constexpr uint64_t kMaxEarlyMessages = 4096;

// One message as it travels: its header's sequence number and the payload behind it.
struct ControlMessage {
  uint64_t seq = 0;
  std::span<const uint8_t> payload;  // into the decoded bytes
};

// Writes `payload` behind a header at `out` (room for kMessageHeader + payload bytes);
// returns the bytes written.
uint32_t encode_message(uint8_t* out, uint64_t seq, std::span<const uint8_t> payload);
// The message in `bytes` (one received buffer); none unless it is exactly one message.
std::optional<ControlMessage> decode_message(std::span<const uint8_t> bytes);

struct ControlChannel {
  // Send side: `slots` buffers of `slot_bytes` each, registered on every rail.
  std::vector<uint8_t> memory;  // empty until the peer's endpoints were created
  Registration* region = nullptr;
  std::vector<uint32_t> free_slots;
  uint64_t next_send_seq = 0;
  // Receive side.
  uint64_t next_recv_seq = 0;
  std::map<uint64_t, std::vector<uint8_t>> early;  // messages that overtook others

  // Copies `payload` behind a header into `slot`; returns the bytes to send.
  uint32_t write(uint32_t slot, uint32_t slot_bytes, std::span<const uint8_t> payload);
  uint64_t slot_address(uint32_t slot, uint32_t slot_bytes) const {
    return reinterpret_cast<uint64_t>(memory.data()) + uint64_t{slot} * slot_bytes;
  }
  // Takes one received message; calls `deliver` for each message now in order (none
  // for a malformed message, a resend or one too far ahead).
  void receive(std::span<const uint8_t> bytes,
               const std::function<void(std::span<const uint8_t>)>& deliver);
};

}  // namespace ferry::engine_internal
