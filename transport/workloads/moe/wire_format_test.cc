// The dispatch and combine messages: what a writer lays out parses back, and a parser
// refuses every field that is not what the reader expects.
#include "transport/workloads/moe/wire_format.h"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

namespace ferry::moe {
namespace {

constexpr uint64_t kTokenBytes = 10;

// Two tokens for three local experts: token 7 to experts 0 and 2, token 9 to expert 2.
struct Message {
  std::vector<uint8_t> bytes;
  DispatchExpectation expect;

  Message() : bytes(512, 0xee) {
    DispatchHeader h;
    h.sequence = 5;
    h.source = 1;
    h.tokens = 2;
    h.rows = 3;
    h.local_experts = 3;
    h.combine_offset = 128;
    DispatchWriter w(bytes.data(), h, kTokenBytes);
    w.count(0, 1);
    w.count(1, 0);
    w.count(2, 2);
    w.token_index(0, 7);
    w.token_index(1, 9);
    w.route(0, RowRoute{0, 0, 1});
    w.route(1, RowRoute{0, 2, 0});
    w.route(2, RowRoute{1, 2, 3});
    for (uint32_t row = 0; row < 3; ++row) w.weight(row, 0.25f * float(row + 1));
    for (uint32_t t = 0; t < 2; ++t) std::fill(w.vector(t), w.vector(t) + kTokenBytes, uint8_t(0xa0 + t));
    expect.sequence = 5;
    expect.source = 1;
    expect.local_experts = 3;
    expect.top_k = 4;
    expect.max_tokens = 16;
    expect.token_bytes = kTokenBytes;
    expect.capacity = bytes.size();
    expect.output_row_bytes = 8;
    expect.combine_area_bytes = 128 + combine_message_bytes(2, 8);  // one row per token
  }
  void put32(uint64_t offset, uint32_t v) { std::memcpy(bytes.data() + offset, &v, 4); }
  void put16(uint64_t offset, uint16_t v) { std::memcpy(bytes.data() + offset, &v, 2); }
  void put64(uint64_t offset, uint64_t v) { std::memcpy(bytes.data() + offset, &v, 8); }
  static constexpr uint64_t kCounts = 32, kTokens = 32 + 12, kRoutes = 32 + 12 + 8, kWeights = kRoutes + 24;
};

TEST(DispatchMessage, ParsesBackWhatWasWritten) {
  Message m;
  auto view = DispatchView::parse(m.bytes.data(), m.expect);
  ASSERT_TRUE(view.ok()) << view.error().to_string();
  EXPECT_EQ(view->header().combine_offset, 128u);
  EXPECT_EQ(view->count(0), 1u);
  EXPECT_EQ(view->count(1), 0u);
  EXPECT_EQ(view->count(2), 2u);
  EXPECT_EQ(view->token_index(1), 9u);
  EXPECT_EQ(view->route(2).k_slot, 3);
  EXPECT_EQ(view->weight(0), 0.25f);
  EXPECT_EQ(view->weight(2), 0.75f);
  EXPECT_EQ(view->vector(1)[0], 0xa1);
  // 32 + 3 counts + 2 indices + 3 routes + 3 weights = 88 bytes: vectors start at the
  // next 64-byte line.
  EXPECT_EQ(dispatch_preamble_bytes(3, 2, 3), 128u);
  EXPECT_EQ(view->vector(1) - m.bytes.data(), 128 + kTokenBytes);
  EXPECT_EQ(view->bytes(), 128 + 2 * kTokenBytes);
  EXPECT_EQ(view->bytes(), dispatch_message_bytes(3, 2, 3, kTokenBytes));
}

TEST(DispatchMessage, PaddingIsZeroedAndNoBytesBeyondTheVectors) {
  Message m;
  for (uint64_t i = Message::kWeights + 3 * sizeof(float); i < 128; ++i) EXPECT_EQ(m.bytes[i], 0) << i;
  EXPECT_EQ(m.bytes[128 + 2 * kTokenBytes], 0xee) << "the writer wrote past its message";
}

TEST(DispatchMessage, AnEmptyMessageIsOnlyItsHeader) {
  std::vector<uint8_t> bytes(64, 0xee);
  DispatchHeader h;
  h.local_experts = 3;
  DispatchWriter w(bytes.data(), h, kTokenBytes);
  for (uint32_t e = 0; e < 3; ++e) w.count(e, 0);
  DispatchExpectation expect = Message().expect;
  expect.sequence = 0;
  expect.source = 0;
  expect.capacity = 64;
  auto view = DispatchView::parse(bytes.data(), expect);
  ASSERT_TRUE(view.ok()) << view.error().to_string();
  EXPECT_EQ(view->bytes(), 64u);
}

struct Corruption {
  const char* name;
  std::function<void(Message&)> apply;
  const char* complaint;
};

TEST(DispatchMessage, EveryBadFieldIsRefusedWithItsReason) {
  const std::vector<Corruption> cases = {
      {"magic", [](Message& m) { m.put32(0, 0); }, "bad magic"},
      {"stale call", [](Message& m) { m.expect.sequence = 6; }, "belongs to call 5, this is call 6"},
      {"source", [](Message& m) { m.expect.source = 2; }, "names rank 1"},
      {"experts", [](Message& m) { m.expect.local_experts = 4; }, "wrong expert count"},
      {"too many tokens", [](Message& m) { m.expect.max_tokens = 1; }, "2 tokens and 3 rows"},
      {"fewer rows than tokens", [](Message& m) { m.put32(16, 1); }, "2 tokens and 1 rows"},
      {"too many rows", [](Message& m) { m.put32(16, 7); }, "2 tokens and 7 rows"},
      {"larger than the slot", [](Message& m) { m.expect.capacity = 70; }, "larger than its slot"},
      {"combine reply outside", [](Message& m) { m.expect.combine_area_bytes -= 1; }, "combine offset"},
      // An offset whose sum with the reply's size wraps past 2^64 used to pass the check.
      {"combine offset wrapping", [](Message& m) { m.put64(24, ~uint64_t{0} - 63); }, "combine offset"},
      {"counts", [](Message& m) { m.put32(Message::kCounts + 4, 1); }, "do not add up"},
      {"route token", [](Message& m) { m.put32(Message::kRoutes + 8, 2); }, "route 1 points outside"},
      {"route slot", [](Message& m) { m.put16(Message::kRoutes + 6, 4); }, "route 0 points outside"},
      {"route expert", [](Message& m) { m.put16(Message::kRoutes + 4, 1); }, "route 0 disagrees with the counts"},
      {"token index", [](Message& m) { m.put32(Message::kTokens, 16); }, "token index is out of range"},
  };
  for (const Corruption& c : cases) {
    Message m;
    c.apply(m);
    auto view = DispatchView::parse(m.bytes.data(), m.expect);
    ASSERT_FALSE(view.ok()) << c.name;
    EXPECT_NE(view.error().message.find(c.complaint), std::string::npos) << c.name << ": " << view.error().message;
    EXPECT_NE(view.error().message.find("dispatch message from rank"), std::string::npos) << c.name;
  }
}

TEST(CombineMessage, ParsesBackAndRefusesWhatDoesNotMatch) {
  std::vector<uint8_t> bytes(64 + 3 * 8, 0xee);
  uint8_t* rows = write_combine_header(bytes.data(), CombineHeader{kCombineMagic, 4, 2, 3});
  EXPECT_EQ(rows - bytes.data(), 64);
  auto ok = parse_combine(bytes.data(), 4, 2, 3);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(*ok, rows);
  EXPECT_EQ(combine_message_bytes(3, 8), bytes.size());
  EXPECT_NE(parse_combine(bytes.data(), 5, 2, 3).error().message.find("belongs to call 4"), std::string::npos);
  EXPECT_NE(parse_combine(bytes.data(), 4, 1, 3).error().message.find("names rank 2"), std::string::npos);
  EXPECT_NE(parse_combine(bytes.data(), 4, 2, 2).error().message.find("3 rows where 2 tokens were sent"),
            std::string::npos);
  bytes[0] ^= 1;
  EXPECT_NE(parse_combine(bytes.data(), 4, 2, 3).error().message.find("bad magic"), std::string::npos);
}

}  // namespace
}  // namespace ferry::moe
