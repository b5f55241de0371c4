// What travels on the tcp provider's sockets: the endpoint address peers exchange out of
// band, the hello that opens a connection, and the frame header of every request and
// response. Fixed-size little-endian structs (the provider runs on little-endian hosts).
#pragma once

#include <cstdint>
#include <span>

#include "transport/result.h"

namespace ferry::tcp {

inline constexpr uint32_t kAddressMagic = 0x50435446;  // "FTCP"
inline constexpr uint8_t kWireVersion = 1;

// Endpoint::address(): where the provider listens, which endpoint, which provider
// instance (a random nonce, so that a restarted process on the same port is not mistaken
// for the old one).
struct WireAddress {
  uint32_t magic = 0;
  uint8_t version = 0;
  uint8_t kind = 0;
  uint16_t port = 0;       // host order
  uint32_t ipv4 = 0;       // network order
  uint32_t endpoint_id = 0;
  uint64_t nonce = 0;
};
static_assert(sizeof(WireAddress) == 24);

// The first bytes on a new connection: which endpoint it is for and who opens it.
struct Hello {
  uint32_t magic = kAddressMagic;
  uint32_t target_endpoint = 0;
  uint64_t target_nonce = 0;
  uint64_t initiator_nonce = 0;
  uint32_t initiator_endpoint = 0;
  uint16_t connection = 0;   // its index among the pair's connections
  uint16_t connections = 0;  // how many the initiator opens
};
static_assert(sizeof(Hello) == 32);

enum class HelloStatus : uint32_t { kAccepted = 0, kNoSuchEndpoint = 1, kWrongProvider = 2, kMalformed = 3 };

struct HelloReply {
  uint32_t magic = kAddressMagic;
  uint32_t status = 0;  // HelloStatus
};

// Requests go from the initiator on the connections it opened; responses come back on
// the same connections.
enum class FrameType : uint8_t {
  kWrite = 1,         // a chunk of a write: chunk_len bytes follow
  kWriteWithImm = 2,  // a chunk of a write-with-imm
  kSend = 3,          // a chunk of a send
  kRead = 4,          // a read request: no bytes follow
  kAck = 16,          // kSuccess: every request up to `ssn` succeeded; else request `ssn` failed
  kReadData = 17,     // a chunk of a read's bytes: chunk_len bytes follow
  kCredit = 18,       // `ssn` holds how many recvs the target posted in all
};

// An ack's status beyond ferry::Status: the target did not execute the request (its
// endpoint in error, not ready, or not connected back to the initiator).
inline constexpr uint8_t kNotExecuted = 0xFF;

struct Frame {
  uint8_t type = 0;    // FrameType
  uint8_t status = 0;  // kAck: a ferry::Status, or kNotExecuted
  uint16_t reserved = 0;
  uint32_t imm = 0;
  uint64_t ssn = 0;          // the request's number on its endpoint pair (kCredit: the count)
  uint64_t remote_addr = 0;  // write, read: the target range
  uint32_t rkey = 0;
  uint32_t chunk_len = 0;    // bytes following this header
  uint64_t total_len = 0;    // the whole request's bytes
  uint64_t offset = 0;       // this chunk's place in the request
};
static_assert(sizeof(Frame) == 48);

inline bool is_request(uint8_t type) { return type >= 1 && type <= 4; }

// The checks on what a peer sends, before any of it is trusted (wire.cc).
//
// A peer's address as Endpoint::address() made it; its kind is the caller's to compare.
Result<WireAddress> parse_address(std::span<const uint8_t> bytes);
// A hello that names a connection among at least one; whose endpoint and provider it
// names is the caller's to look up.
bool well_formed(const Hello& hello);
// A frame on a connection a peer opened to us: a request whose chunk lies inside it (a
// read request brings no bytes).
VoidResult check_request(const Frame& frame);
// A frame on a connection we opened: an ack or a credit without bytes, or a chunk of a
// read's bytes lying inside that read.
VoidResult check_response(const Frame& frame);

}  // namespace ferry::tcp
