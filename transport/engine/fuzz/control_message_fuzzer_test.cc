// The control message fuzzer's entry point over fixed inputs: messages in order, out of
// order, resent, every truncation of them and corrupted bytes; and what the channel does
// with a message too far ahead. It aborts on a broken invariant; tools/fuzz.sh explores
// further with libFuzzer.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "transport/engine/control_channel.h"
#include "transport/testing/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ferry::engine_internal {
namespace {

std::vector<uint8_t> message(uint64_t seq, std::vector<uint8_t> payload) {
  std::vector<uint8_t> out(kMessageHeader + payload.size());
  encode_message(out.data(), seq, payload);
  return out;
}

// The fuzzer's input: each buffer behind its 2-byte length.
void append(std::vector<uint8_t>& input, const std::vector<uint8_t>& buffer) {
  input.push_back(static_cast<uint8_t>(buffer.size()));
  input.push_back(static_cast<uint8_t>(buffer.size() >> 8));
  input.insert(input.end(), buffer.begin(), buffer.end());
}

TEST(ControlMessageFuzzer, FixedInputsKeepEveryInvariant) {
  std::vector<uint8_t> input;
  for (uint64_t seq : {2, 0, 0, 1, 3, 5, 4, 5}) append(input, message(seq, std::vector<uint8_t>(seq * 3, uint8_t(seq))));
  append(input, message(kMaxEarlyMessages + 6, {1}));
  append(input, message(~0ull, {}));
  expect_every_truncation_and_corruption_survives(LLVMFuzzerTestOneInput, input, 0x3c);
}

TEST(ControlMessageFuzzer, DecodesWhatWasEncoded) {
  const std::vector<uint8_t> bytes = message(9, {4, 5});
  const auto decoded = decode_message(bytes);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->seq, 9u);
  EXPECT_EQ(std::vector<uint8_t>(decoded->payload.begin(), decoded->payload.end()), (std::vector<uint8_t>{4, 5}));
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(decode_message(longer).has_value());
}

// A peer numbering its messages far ahead (here the last sequence number, and then a
// run of numbers past the window) made the channel keep every one of them, waiting for
// numbers that never come: memory without bound. Such messages are now dropped.
TEST(ControlMessageFuzzer, MessagesFarAheadAreNotKept) {
  ControlChannel channel;
  int delivered = 0;
  auto deliver = [&](std::span<const uint8_t>) { ++delivered; };
  channel.receive(message(~0ull, {1, 2, 3}), deliver);
  for (uint64_t seq = kMaxEarlyMessages; seq < kMaxEarlyMessages + 1000; ++seq) channel.receive(message(seq, {}), deliver);
  EXPECT_TRUE(channel.early.empty());
  // Within the window, messages still wait for the ones before them.
  channel.receive(message(kMaxEarlyMessages - 1, {}), deliver);
  channel.receive(message(1, {}), deliver);
  EXPECT_EQ(channel.early.size(), 2u);
  channel.receive(message(0, {}), deliver);
  EXPECT_EQ(delivered, 2);
  EXPECT_EQ(channel.next_recv_seq, 2u);
}

}  // namespace
}  // namespace ferry::engine_internal
