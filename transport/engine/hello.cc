#include "transport/engine/hello.h"

#include "transport/engine/wire.h"

namespace ferry::engine_internal {
namespace {

constexpr uint32_t kHelloMagic = 0x4c454846;      // "FHEL"
constexpr uint32_t kConnectedMagic = 0x4e4f4346;  // "FCON"
constexpr uint8_t kHelloVersion = 1;

}  // namespace

std::vector<uint8_t> encode_hello(EndpointKind kind, uint64_t incarnation,
                                  std::span<const std::vector<uint8_t>> addresses) {
  std::vector<uint8_t> out;
  put(out, kHelloMagic);
  put(out, kHelloVersion);
  put(out, static_cast<uint8_t>(kind));
  put(out, static_cast<uint8_t>(addresses.size()));
  put(out, incarnation);
  for (const std::vector<uint8_t>& address : addresses) {
    put(out, static_cast<uint16_t>(address.size()));
    out.insert(out.end(), address.begin(), address.end());
  }
  return out;
}

std::vector<uint8_t> encode_connected(uint64_t incarnation) {
  std::vector<uint8_t> out;
  put(out, kConnectedMagic);
  put(out, incarnation);
  return out;
}

HandshakeKind handshake_kind(std::span<const uint8_t> bytes) {
  size_t off = 0;
  uint32_t magic = 0;
  if (!take(bytes, &off, &magic)) return HandshakeKind::kNone;
  if (magic == kHelloMagic) return HandshakeKind::kHello;
  if (magic == kConnectedMagic) return HandshakeKind::kConnected;
  return HandshakeKind::kNone;
}

std::optional<Hello> parse_hello(std::span<const uint8_t> bytes) {
  size_t off = 0;
  uint32_t magic = 0;
  uint8_t version = 0, kind = 0, rails = 0;
  Hello hello;
  if (!take(bytes, &off, &magic) || magic != kHelloMagic || !take(bytes, &off, &version) ||
      version != kHelloVersion || !take(bytes, &off, &kind) || !take(bytes, &off, &rails) ||
      !take(bytes, &off, &hello.incarnation) || rails == 0 || rails > kMaxRails ||
      kind > static_cast<uint8_t>(EndpointKind::kSrd)) {
    return std::nullopt;
  }
  hello.kind = static_cast<EndpointKind>(kind);
  for (uint32_t r = 0; r < rails; ++r) {
    uint16_t length = 0;
    if (!take(bytes, &off, &length) || bytes.size() - off < length) return std::nullopt;
    hello.addresses.push_back(bytes.subspan(off, length));
    off += length;
  }
  if (off != bytes.size()) return std::nullopt;
  return hello;
}

std::optional<uint64_t> parse_connected(std::span<const uint8_t> bytes) {
  size_t off = 0;
  uint32_t magic = 0;
  uint64_t incarnation = 0;
  if (!take(bytes, &off, &magic) || magic != kConnectedMagic || !take(bytes, &off, &incarnation) ||
      off != bytes.size()) {
    return std::nullopt;
  }
  return incarnation;
}

}  // namespace ferry::engine_internal
