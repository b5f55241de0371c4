// The tcp wire fuzzer's entry point over fixed inputs: an address, a hello, requests and
// responses, every truncation of them and corrupted bytes; and the frames the checks
// refuse. It aborts on a broken invariant; tools/fuzz.sh explores further with libFuzzer.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "transport/tcp/wire.h"
#include "transport/testing/fuzz_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace ferry::tcp {
namespace {

template <typename T>
std::vector<uint8_t> input(uint8_t what, const T& value) {
  std::vector<uint8_t> out(1 + sizeof value, what);
  std::memcpy(out.data() + 1, &value, sizeof value);
  return out;
}

Frame frame(FrameType type, uint64_t total, uint64_t offset, uint32_t chunk) {
  Frame f;
  f.type = static_cast<uint8_t>(type);
  f.total_len = total;
  f.offset = offset;
  f.chunk_len = chunk;
  return f;
}

TEST(TcpWireFuzzer, FixedInputsKeepEveryInvariant) {
  const WireAddress address{kAddressMagic, kWireVersion, 0, 4791, 0x0100007f, 3, 0x1234};
  const Hello hello{kAddressMagic, 3, 0x1234, 0x5678, 9, 1, 4};
  const std::vector<std::vector<uint8_t>> inputs = {
      input(0, address),
      input(1, hello),
      input(2, frame(FrameType::kWrite, 3 << 20, 1 << 20, 1 << 20)),
      input(2, frame(FrameType::kRead, 4096, 0, 0)),
      input(3, frame(FrameType::kReadData, 8192, 4096, 4096)),
      input(3, frame(FrameType::kAck, 0, 0, 0)),
  };
  for (const std::vector<uint8_t>& in : inputs) {
    expect_every_truncation_and_corruption_survives(LLVMFuzzerTestOneInput, in, 0x6e);
  }
  const std::vector<uint8_t> bytes(inputs[0].begin() + 1, inputs[0].end());
  EXPECT_TRUE(parse_address(bytes).ok());
  EXPECT_TRUE(well_formed(hello));
}

// A chunk's offset near 2^64 made offset + chunk_len wrap below the read's size, so the
// initiator took bytes for a range its read never had; a request's chunk past its own
// total, or bytes behind a read request or an ack, are not frames of ours either.
TEST(TcpWireFuzzer, ChunksOutsideTheirRequestAreRefused) {
  EXPECT_TRUE(check_response(frame(FrameType::kReadData, 4096, 0, 4096)).ok());
  const VoidResult wrapped = check_response(frame(FrameType::kReadData, 4096, ~uint64_t{0} - 15, 32));
  ASSERT_FALSE(wrapped.ok());
  EXPECT_NE(wrapped.error().message.find("a chunk of 32 bytes at 18446744073709551600 of a 4096-byte request"),
            std::string::npos)
      << wrapped.error().message;
  EXPECT_FALSE(check_request(frame(FrameType::kWrite, 4096, 4000, 100)).ok());
  EXPECT_FALSE(check_request(frame(FrameType::kSend, 0, 0, 1)).ok());
  EXPECT_FALSE(check_request(frame(FrameType::kRead, 4096, 0, 16)).ok());
  EXPECT_FALSE(check_request(frame(FrameType::kAck, 0, 0, 0)).ok());
  EXPECT_FALSE(check_response(frame(FrameType::kAck, 0, 0, 8)).ok());
  EXPECT_FALSE(check_response(frame(FrameType::kWrite, 0, 0, 0)).ok());
  EXPECT_FALSE(well_formed(Hello{kAddressMagic, 3, 1, 2, 9, 4, 4}));
}

}  // namespace
}  // namespace ferry::tcp
