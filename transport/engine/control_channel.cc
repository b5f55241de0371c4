#include "transport/engine/control_channel.h"

#include <cstring>

#include "transport/engine/wire.h"

namespace ferry::engine_internal {
namespace {

constexpr uint32_t kMessageMagic = 0x47534d46;  // "FMSG"

}  // namespace

uint32_t encode_message(uint8_t* out, uint64_t seq, std::span<const uint8_t> payload) {
  const uint32_t length = static_cast<uint32_t>(payload.size());
  std::memcpy(out, &kMessageMagic, 4);
  std::memcpy(out + 4, &seq, 8);
  std::memcpy(out + 12, &length, 4);
  if (!payload.empty()) std::memcpy(out + kMessageHeader, payload.data(), payload.size());
  return static_cast<uint32_t>(kMessageHeader + payload.size());
}

std::optional<ControlMessage> decode_message(std::span<const uint8_t> bytes) {
  size_t off = 0;
  uint32_t magic = 0, length = 0;
  ControlMessage message;
  if (!take(bytes, &off, &magic) || magic != kMessageMagic || !take(bytes, &off, &message.seq) ||
      !take(bytes, &off, &length) || bytes.size() - off != length) {
    return std::nullopt;
  }
  message.payload = bytes.subspan(off);
  return message;
}

uint32_t ControlChannel::write(uint32_t slot, uint32_t slot_bytes, std::span<const uint8_t> payload) {
  return encode_message(memory.data() + uint64_t{slot} * slot_bytes, next_send_seq++, payload);
}

void ControlChannel::receive(std::span<const uint8_t> bytes,
                             const std::function<void(std::span<const uint8_t>)>& deliver) {
  const std::optional<ControlMessage> message = decode_message(bytes);
  if (!message) return;
  const uint64_t seq = message->seq;
  if (seq < next_recv_seq || early.count(seq)) return;  // a resend
  if (seq - next_recv_seq >= kMaxEarlyMessages) return;  // no sender of ours is that far ahead
  early.emplace(seq, std::vector<uint8_t>(message->payload.begin(), message->payload.end()));
  // Deliver in sequence order, whatever order the fabric used.
  for (auto it = early.begin(); it != early.end() && it->first == next_recv_seq; it = early.erase(it)) {
    ++next_recv_seq;
    if (deliver) deliver(it->second);
  }
}

}  // namespace ferry::engine_internal
