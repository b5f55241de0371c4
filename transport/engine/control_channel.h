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
#include <span>
#include <vector>

#include "transport/engine/memory_registry.h"

namespace ferry::engine_internal {

inline constexpr size_t kMessageHeader = 4 + 8 + 4;  // magic, sequence number, payload length

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
  // for a malformed message or a resend).
  void receive(std::span<const uint8_t> bytes,
               const std::function<void(std::span<const uint8_t>)>& deliver);
};

}  // namespace ferry::engine_internal
