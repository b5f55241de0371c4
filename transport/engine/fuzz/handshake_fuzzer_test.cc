// The handshake fuzzer's entry point over fixed inputs: hellos and "connected"s, every
// truncation of them, and corrupted bytes. It aborts on a broken invariant;
// tools/fuzz.sh explores further with libFuzzer.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "transport/engine/hello.h"
#include "transport/testing/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ferry::engine_internal {
namespace {

std::vector<std::vector<uint8_t>> valid_messages() {
  const std::vector<std::vector<uint8_t>> one = {{1, 2, 3}};
  const std::vector<std::vector<uint8_t>> many(kMaxRails, std::vector<uint8_t>(24, 9));
  const std::vector<std::vector<uint8_t>> empty_address = {{}, {7}};
  return {encode_hello(EndpointKind::kRc, 42, one), encode_hello(EndpointKind::kSrd, ~0ull, many),
          encode_hello(EndpointKind::kRc, 0, empty_address), encode_connected(42)};
}

TEST(HandshakeFuzzer, FixedInputsKeepEveryInvariant) {
  for (const std::vector<uint8_t>& message : valid_messages()) {
    expect_every_truncation_and_corruption_survives(LLVMFuzzerTestOneInput, message, 0xa5);
  }
}

TEST(HandshakeFuzzer, ValidMessagesParse) {
  const auto messages = valid_messages();
  ASSERT_TRUE(parse_hello(messages[0]).has_value());
  ASSERT_TRUE(parse_hello(messages[1]).has_value());
  EXPECT_EQ(parse_hello(messages[1])->addresses.size(), kMaxRails);
  EXPECT_EQ(parse_connected(messages[3]), 42u);
}

// The endpoint kind sits at byte 5; a kind this version does not know is not a hello of
// this version, so it is ignored like any other malformed one.
TEST(HandshakeFuzzer, AnUnknownEndpointKindIsRefused) {
  const std::vector<std::vector<uint8_t>> one = {{1, 2, 3}};
  std::vector<uint8_t> hello = encode_hello(EndpointKind::kRc, 1, one);
  hello[5] = 7;
  EXPECT_FALSE(parse_hello(hello).has_value());
  EXPECT_EQ(LLVMFuzzerTestOneInput(hello.data(), hello.size()), 0);
}

}  // namespace
}  // namespace ferry::engine_internal
