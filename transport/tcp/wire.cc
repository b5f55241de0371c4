#include "transport/tcp/wire.h"

#include <cstring>
#include <string>

namespace ferry::tcp {
namespace {

// Whether [offset, offset + chunk_len) lies inside total_len bytes, without the sum.
bool chunk_inside(const Frame& frame) {
  return frame.chunk_len <= frame.total_len && frame.offset <= frame.total_len - frame.chunk_len;
}

Error chunk_outside(const Frame& frame) {
  return make_error(ErrorCode::kInvalidArgument, "a chunk of " + std::to_string(frame.chunk_len) + " bytes at " +
                                                     std::to_string(frame.offset) + " of a " +
                                                     std::to_string(frame.total_len) + "-byte request");
}

}  // namespace

Result<WireAddress> parse_address(std::span<const uint8_t> bytes) {
  WireAddress a;
  if (bytes.size() != sizeof a) {
    return make_error(ErrorCode::kInvalidArgument, "tcp address must be " + std::to_string(sizeof a) + " bytes, got " +
                                                       std::to_string(bytes.size()));
  }
  std::memcpy(&a, bytes.data(), sizeof a);
  if (a.magic != kAddressMagic || a.version != kWireVersion || a.port == 0 || a.endpoint_id == 0 || a.nonce == 0) {
    return make_error(ErrorCode::kInvalidArgument, "bad magic, version, port or id: not the address of a tcp endpoint");
  }
  return a;
}

bool well_formed(const Hello& hello) {
  return hello.magic == kAddressMagic && hello.connections > 0 && hello.connection < hello.connections;
}

VoidResult check_request(const Frame& frame) {
  if (!is_request(frame.type)) {
    return make_error(ErrorCode::kInvalidArgument, "frame type " + std::to_string(frame.type) + " is not a request");
  }
  if (frame.type == static_cast<uint8_t>(FrameType::kRead) && frame.chunk_len != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "a read request followed by " + std::to_string(frame.chunk_len) + " bytes");
  }
  if (!chunk_inside(frame)) return chunk_outside(frame);
  return {};
}

VoidResult check_response(const Frame& frame) {
  switch (static_cast<FrameType>(frame.type)) {
    case FrameType::kAck:
    case FrameType::kCredit:
      if (frame.chunk_len != 0) {
        return make_error(ErrorCode::kInvalidArgument,
                          "an ack or credit followed by " + std::to_string(frame.chunk_len) + " bytes");
      }
      return {};
    case FrameType::kReadData:
      if (!chunk_inside(frame)) return chunk_outside(frame);
      return {};
    default:
      return make_error(ErrorCode::kInvalidArgument, "frame type " + std::to_string(frame.type) + " is not a response");
  }
}

}  // namespace ferry::tcp
