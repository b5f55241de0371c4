// The address a software provider's endpoint hands out for its peer's connect(): 16
// bytes naming the provider (magic), the format's version, the endpoint's kind, its id
// and where it is (node or host, NIC). emu and sim use the same layout with their own
// magic, so an address of one is refused by the other.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "transport/provider.h"

namespace ferry {

struct EndpointAddress {
  uint32_t magic = 0;
  uint8_t version = 0;
  uint8_t kind = 0;
  uint16_t reserved = 0;
  uint32_t endpoint_id = 0;
  uint16_t place = 0;  // emu: node; sim: host
  uint16_t nic = 0;
};
static_assert(sizeof(EndpointAddress) == 16);

inline constexpr uint8_t kEndpointAddressVersion = 1;

std::vector<uint8_t> encode_address(uint32_t magic, EndpointKind kind, uint32_t endpoint_id, uint32_t place,
                                    uint32_t nic);

// The address in `bytes`, checked for its size, magic, version and kind
// (kInvalidArgument otherwise, the message naming `provider`).
Result<EndpointAddress> decode_address(std::span<const uint8_t> bytes, uint32_t magic, std::string_view provider,
                                       EndpointKind kind);

}  // namespace ferry
