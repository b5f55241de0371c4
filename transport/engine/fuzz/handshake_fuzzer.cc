// libFuzzer entry point for the connection handshake's parsers, hello and "connected"
// (tools/fuzz.sh builds it with clang and runs it; handshake_fuzzer_test runs fixed
// inputs through it under Bazel's own toolchain).
//
// The input is one message from a peer's exchange. Each parser gives a value or none;
// a value must be within the limits, agree with the message's kind, and encode back to
// exactly the input. A broken invariant aborts, which the fuzzer reports with the input.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "transport/engine/hello.h"

namespace {

void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "handshake parser invariant broken: %s\n", what);
  std::abort();
}

bool same(const std::vector<uint8_t>& a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry;
  using namespace ferry::engine_internal;
  const std::span<const uint8_t> bytes(data, size);
  const HandshakeKind kind = handshake_kind(bytes);
  if (const auto hello = parse_hello(bytes)) {
    check(kind == HandshakeKind::kHello, "a hello has the hello's magic");
    check(!hello->addresses.empty() && hello->addresses.size() <= kMaxRails, "1 to kMaxRails addresses");
    check(hello->kind == EndpointKind::kRc || hello->kind == EndpointKind::kSrd, "a known endpoint kind");
    std::vector<std::vector<uint8_t>> addresses;
    for (std::span<const uint8_t> a : hello->addresses) {
      check(a.data() >= bytes.data() && a.data() + a.size() <= bytes.data() + bytes.size(),
            "an address lies inside the message");
      addresses.emplace_back(a.begin(), a.end());
    }
    check(same(encode_hello(hello->kind, hello->incarnation, addresses), bytes),
          "a hello encodes back to the bytes it came from");
  }
  if (const auto incarnation = parse_connected(bytes)) {
    check(kind == HandshakeKind::kConnected, "a connected has the connected's magic");
    check(same(encode_connected(*incarnation), bytes), "a connected encodes back to the bytes it came from");
  }
  return 0;
}
