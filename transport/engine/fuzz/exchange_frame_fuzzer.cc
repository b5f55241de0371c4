// libFuzzer entry point for the TCP exchange's frame parser (tools/fuzz.sh builds it
// with clang and runs it; exchange_frame_fuzzer_test runs fixed inputs through it under
// Bazel's own toolchain).
//
// The input is a byte stream from a peer, decoded frame after frame as the exchange's
// reader does. Each step must give a frame, "more bytes needed" having consumed
// nothing, or an error with a message; a frame must be within the limits and encode
// back to exactly the bytes it consumed. A broken invariant aborts, which the fuzzer
// reports with the input that caused it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "transport/engine/tcp_exchange.h"

namespace {

void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "exchange frame parser invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry;
  std::span<const uint8_t> rest(data, size);
  for (;;) {
    size_t consumed = 99;
    auto frame = decode_frame(rest, &consumed);
    if (!frame.ok()) {
      check(!frame.error().message.empty(), "an error has a message");
      return 0;
    }
    if (!frame->has_value()) {
      check(consumed == 0, "waiting for more bytes consumes none");
      return 0;
    }
    check(consumed > 0 && consumed <= rest.size(), "a frame consumes bytes it was given");
    const ExchangeFrame& f = **frame;
    check(!f.from.empty() && f.from.size() <= 255, "a sender name of 1 to 255 bytes");
    check(f.payload.size() <= TcpExchange::kMaxPayload, "a payload within the limit");
    const std::vector<uint8_t> again = encode_frame(f.from, f.payload);
    check(again.size() == consumed && std::equal(again.begin(), again.end(), rest.begin()),
          "a frame encodes back to the bytes it came from");
    rest = rest.subspan(consumed);
  }
}
