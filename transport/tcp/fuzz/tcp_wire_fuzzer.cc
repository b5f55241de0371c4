// libFuzzer entry point for the tcp provider's wire checks: the endpoint address a peer
// hands over out of band, the hello that opens a connection, and the header of every
// frame after it (tools/fuzz.sh builds it with clang and runs it; tcp_wire_fuzzer_test
// runs fixed inputs through it under Bazel's own toolchain).
//
// The input's first byte says what the rest is: 0 an address, 1 a hello, 2 a frame on a
// connection a peer opened to us (a request), 3 a frame on one we opened (a response).
// What passes must be what the provider relies on (a chunk inside its request, no bytes
// behind a read request or an ack, a connection among at least one) and be the bytes it
// came from. A broken invariant aborts, which the fuzzer reports with the input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "transport/tcp/wire.h"

namespace {

using namespace ferry;
using namespace ferry::tcp;

void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "tcp wire invariant broken: %s\n", what);
  std::abort();
}

void address(std::span<const uint8_t> bytes) {
  const Result<WireAddress> a = parse_address(bytes);
  if (!a.ok()) {
    check(!a.error().message.empty(), "an error has a message");
    return;
  }
  check(a->magic == kAddressMagic && a->version == kWireVersion && a->port != 0 && a->endpoint_id != 0 &&
            a->nonce != 0,
        "an address names a port, an endpoint and a provider");
  check(bytes.size() == sizeof(WireAddress) && std::memcmp(&*a, bytes.data(), bytes.size()) == 0,
        "an address is the bytes it came from");
}

void hello(std::span<const uint8_t> bytes) {
  Hello h;
  if (bytes.size() < sizeof h) return;  // the provider reads exactly a hello's bytes
  std::memcpy(&h, bytes.data(), sizeof h);
  if (well_formed(h)) check(h.connections > 0 && h.connection < h.connections, "a connection among at least one");
}

void frame(std::span<const uint8_t> bytes, bool request) {
  Frame f;
  if (bytes.size() < sizeof f) return;  // the provider reads exactly a frame header's bytes
  std::memcpy(&f, bytes.data(), sizeof f);
  const VoidResult checked = request ? check_request(f) : check_response(f);
  if (!checked.ok()) {
    check(!checked.error().message.empty(), "an error has a message");
    return;
  }
  const bool carries = request || f.type == static_cast<uint8_t>(FrameType::kReadData);
  check(!carries || (f.chunk_len <= f.total_len && f.offset <= f.total_len - f.chunk_len),
        "a chunk lies inside its request");
  if (request) {
    check(is_request(f.type), "a request's type");
    if (f.type == static_cast<uint8_t>(FrameType::kRead)) check(f.chunk_len == 0, "no bytes behind a read request");
  } else {
    check(f.type == static_cast<uint8_t>(FrameType::kReadData) || f.chunk_len == 0, "no bytes behind an ack");
    check(f.type == static_cast<uint8_t>(FrameType::kReadData) || f.type == static_cast<uint8_t>(FrameType::kAck) ||
              f.type == static_cast<uint8_t>(FrameType::kCredit),
          "a response's type");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> rest(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0: address(rest); break;
    case 1: hello(rest); break;
    case 2: frame(rest, true); break;
    case 3: frame(rest, false); break;
  }
  return 0;
}
