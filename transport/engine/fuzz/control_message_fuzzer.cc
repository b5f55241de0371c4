// libFuzzer entry point for the control channel's receive side (tools/fuzz.sh builds it
// with clang and runs it; control_message_fuzzer_test runs fixed inputs through it under
// Bazel's own toolchain).
//
// The input is a series of received buffers, each a 2-byte little-endian length and that
// many bytes. Each buffer is decoded on its own and then handed to one ControlChannel, as
// the engine's receive completions do. A decoded message must encode back to exactly its
// buffer; the channel must deliver payloads in sequence order, each once, and hold no
// more than kMaxEarlyMessages that overtook others. A broken invariant aborts, which the
// fuzzer reports with the input that caused it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <span>
#include <vector>

#include "transport/engine/control_channel.h"

namespace {

void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "control message invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::engine_internal;
  std::span<const uint8_t> rest(data, size);
  ControlChannel channel;
  std::map<uint64_t, std::vector<uint8_t>> accepted;  // what each delivered number must carry
  uint64_t delivered = 0;
  while (rest.size() >= 2) {
    const size_t length = std::min<size_t>(rest[0] | size_t{rest[1]} << 8, rest.size() - 2);
    const std::span<const uint8_t> buffer = rest.subspan(2, length);
    rest = rest.subspan(2 + length);

    const std::optional<ControlMessage> message = decode_message(buffer);
    if (message) {
      check(message->payload.size() + kMessageHeader == buffer.size(), "the payload is the rest of the buffer");
      std::vector<uint8_t> again(buffer.size());
      check(encode_message(again.data(), message->seq, message->payload) == buffer.size() &&
                std::equal(again.begin(), again.end(), buffer.begin()),
            "a message encodes back to the bytes it came from");
      if (message->seq >= channel.next_recv_seq && !channel.early.count(message->seq)) {
        accepted[message->seq].assign(message->payload.begin(), message->payload.end());
      }
    }
    channel.receive(buffer, [&](std::span<const uint8_t> payload) {
      auto it = accepted.find(delivered);
      check(it != accepted.end(), "only a decoded message is delivered");
      check(std::equal(payload.begin(), payload.end(), it->second.begin(), it->second.end()),
            "a message is delivered with its own payload");
      accepted.erase(it);
      ++delivered;
    });
    check(channel.next_recv_seq == delivered, "messages are delivered in order, each once");
    check(channel.early.size() < kMaxEarlyMessages, "a bounded number of messages wait");
    check(channel.early.empty() || channel.early.rbegin()->first - channel.next_recv_seq < kMaxEarlyMessages,
          "no waiting message lies beyond the window");
    if (!message) continue;
    // A message the channel dropped as too far ahead is not waiting to be delivered.
    if (!channel.early.count(message->seq)) accepted.erase(message->seq);
  }
  return 0;
}
