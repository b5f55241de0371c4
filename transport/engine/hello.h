// The connection handshake's two messages, sent over the Exchange.
//
// Each side sends a hello with its endpoint kind, an incarnation number and one
// endpoint address per rail (empty for a rail it has no endpoint on: its NIC is dead); on a hello, a side connects its endpoints and answers
// "connected" with the incarnation it connected to. Parsing is strict: anything that is
// not exactly a handshake of this version is ignored rather than trusted.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "transport/provider.h"

namespace ferry::engine_internal {

inline constexpr uint32_t kMaxRails = 64;

struct Hello {
  EndpointKind kind = EndpointKind::kRc;
  uint64_t incarnation = 0;
  std::vector<std::span<const uint8_t>> addresses;  // one per rail, into the parsed bytes; empty: none
};

std::vector<uint8_t> encode_hello(EndpointKind kind, uint64_t incarnation,
                                  std::span<const std::vector<uint8_t>> addresses);
std::vector<uint8_t> encode_connected(uint64_t incarnation);

enum class HandshakeKind : uint8_t { kNone, kHello, kConnected };
// What a message from the exchange is, by its magic number.
HandshakeKind handshake_kind(std::span<const uint8_t> bytes);
// The hello in `bytes`; none if malformed. Addresses point into `bytes`.
std::optional<Hello> parse_hello(std::span<const uint8_t> bytes);
// The incarnation a "connected" answers; none if malformed.
std::optional<uint64_t> parse_connected(std::span<const uint8_t> bytes);

}  // namespace ferry::engine_internal
