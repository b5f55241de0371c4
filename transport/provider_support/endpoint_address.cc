#include "transport/provider_support/endpoint_address.h"

#include <cstring>
#include <string>

namespace ferry {

std::vector<uint8_t> encode_address(uint32_t magic, EndpointKind kind, uint32_t endpoint_id, uint32_t place,
                                    uint32_t nic) {
  const EndpointAddress address{magic,       kEndpointAddressVersion,      static_cast<uint8_t>(kind), 0,
                                endpoint_id, static_cast<uint16_t>(place), static_cast<uint16_t>(nic)};
  std::vector<uint8_t> bytes(sizeof address);
  std::memcpy(bytes.data(), &address, sizeof address);
  return bytes;
}

Result<EndpointAddress> decode_address(std::span<const uint8_t> bytes, uint32_t magic, std::string_view provider,
                                       EndpointKind kind) {
  EndpointAddress address;
  if (bytes.size() != sizeof address) {
    return make_error(ErrorCode::kInvalidArgument, std::string(provider) + " address must be " +
                                                       std::to_string(sizeof address) + " bytes, got " +
                                                       std::to_string(bytes.size()));
  }
  std::memcpy(&address, bytes.data(), sizeof address);
  if (address.magic != magic || address.version != kEndpointAddressVersion) {
    return make_error(ErrorCode::kInvalidArgument,
                      "bad magic or version: not the address of a " + std::string(provider) + " endpoint");
  }
  if (address.kind != static_cast<uint8_t>(kind)) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("cannot connect a ") + to_string(kind) + " endpoint to a peer of another kind");
  }
  return address;
}

}  // namespace ferry
