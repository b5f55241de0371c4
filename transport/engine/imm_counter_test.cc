#include "transport/engine/imm_counter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "transport/random.h"

namespace ferry {
namespace {

TEST(ImmediateTest, EncodesTagAndPiece) {
  const uint32_t imm = Immediate::encode(0xbeef, 0x1234);
  EXPECT_EQ(Immediate::tag(imm), 0xbeef);
  EXPECT_EQ(Immediate::piece(imm), 0x1234);
}

TEST(ImmCounterTest, FiresOnceWhenCountReachedAfterExpect) {
  ImmCounter counter;
  int fired = 0;
  ASSERT_TRUE(counter.expect(7, 3, [&] { ++fired; }));
  counter.on_immediate(Immediate::encode(7, 0));
  counter.on_immediate(Immediate::encode(7, 2));
  EXPECT_EQ(fired, 0);
  counter.on_immediate(Immediate::encode(7, 1));
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(counter.arrived(7), 3u);
}

TEST(ImmCounterTest, FiresAtOnceWhenPiecesLandedBeforeExpect) {
  ImmCounter counter;
  for (uint16_t p = 0; p < 5; ++p) counter.on_immediate(Immediate::encode(1, p));
  int fired = 0;
  ASSERT_TRUE(counter.expect(1, 5, [&] { ++fired; }));
  EXPECT_EQ(fired, 1);
}

TEST(ImmCounterTest, DuplicatesAreNotCountedTwice) {
  ImmCounter counter;
  int fired = 0;
  ASSERT_TRUE(counter.expect(2, 2, [&] { ++fired; }));
  EXPECT_TRUE(counter.on_immediate(Immediate::encode(2, 0)));
  EXPECT_FALSE(counter.on_immediate(Immediate::encode(2, 0)));  // a resend
  EXPECT_EQ(fired, 0);
  EXPECT_EQ(counter.arrived(2), 1u);
  EXPECT_EQ(counter.duplicates(), 1u);
  counter.on_immediate(Immediate::encode(2, 1));
  EXPECT_EQ(fired, 1);
  counter.on_immediate(Immediate::encode(2, 1));
  EXPECT_EQ(fired, 1);
}

TEST(ImmCounterTest, TagsAreIndependent) {
  ImmCounter counter;
  int a = 0, b = 0;
  ASSERT_TRUE(counter.expect(10, 1, [&] { ++a; }));
  ASSERT_TRUE(counter.expect(11, 2, [&] { ++b; }));
  counter.on_immediate(Immediate::encode(11, 0));
  EXPECT_EQ(a, 0);
  EXPECT_EQ(b, 0);
  counter.on_immediate(Immediate::encode(10, 0));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
}

TEST(ImmCounterTest, RefusesBadExpectations) {
  ImmCounter counter;
  EXPECT_FALSE(counter.expect(1, 0, [] {}));
  EXPECT_FALSE(counter.expect(1, Immediate::kMaxPieces + 1, [] {}));
  EXPECT_TRUE(counter.expect(1, 1, [] {}));
  EXPECT_FALSE(counter.expect(1, 1, [] {}));  // one expectation per tag
}

TEST(ImmCounterTest, ReleaseLetsATagBeReusedEvenFromItsCallback) {
  ImmCounter counter;
  int fired = 0;
  ASSERT_TRUE(counter.expect(3, 1, [&] {
    ++fired;
    counter.release(3);
  }));
  counter.on_immediate(Immediate::encode(3, 0));
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(counter.arrived(3), 0u);
  ASSERT_TRUE(counter.expect(3, 1, [&] { ++fired; }));
  counter.on_immediate(Immediate::encode(3, 0));
  EXPECT_EQ(fired, 2);
}

// Every piece of a 65536-piece transfer, in a seeded random order with a tenth of them
// delivered twice: fires exactly once, at the last distinct piece.
TEST(ImmCounterTest, ExactlyOnceUnderReorderingAndResends) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    ferry::Rng rng(seed);
    std::vector<uint32_t> order(Immediate::kMaxPieces);
    std::iota(order.begin(), order.end(), 0u);
    for (size_t i = 0; i < order.size() / 10; ++i) order.push_back(static_cast<uint32_t>(rng.below(Immediate::kMaxPieces)));
    for (size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);

    ImmCounter counter;
    int fired = 0;
    uint32_t distinct_at_fire = 0;
    ASSERT_TRUE(counter.expect(9, Immediate::kMaxPieces, [&] {
      ++fired;
      distinct_at_fire = counter.arrived(9);
    }));
    for (uint32_t piece : order) counter.on_immediate(Immediate::encode(9, static_cast<uint16_t>(piece)));
    EXPECT_EQ(fired, 1) << "seed " << seed;
    EXPECT_EQ(distinct_at_fire, Immediate::kMaxPieces);
    EXPECT_EQ(counter.duplicates(), order.size() - Immediate::kMaxPieces);
  }
}

// A stream on one tag waited index by index: a late copy of message k is dropped, never
// taken for message k+1, and a message that came ahead of its wait is taken at once.
TEST(ImmCounterTest, IndexWaitsKeepWhatLandedSoALateCopyIsADuplicate) {
  ImmCounter counter;
  int got0 = 0, got1 = 0, got2 = 0;
  ASSERT_TRUE(counter.expect_index(4, 0, [&] { ++got0; }));
  EXPECT_TRUE(counter.on_immediate(Immediate::encode(4, 0)));
  EXPECT_EQ(got0, 1);
  counter.end_wait(4);
  ASSERT_TRUE(counter.expect_index(4, 1, [&] { ++got1; }));
  EXPECT_FALSE(counter.on_immediate(Immediate::encode(4, 0)));  // the late copy
  EXPECT_EQ(got1, 0);
  EXPECT_EQ(counter.duplicates(), 1u);
  EXPECT_TRUE(counter.on_immediate(Immediate::encode(4, 2)));  // ahead of its wait
  EXPECT_TRUE(counter.on_immediate(Immediate::encode(4, 1)));
  EXPECT_EQ(got1, 1);
  counter.end_wait(4);
  ASSERT_TRUE(counter.expect_index(4, 2, [&] { ++got2; }));
  EXPECT_EQ(got2, 1);
  counter.release(4);
  EXPECT_EQ(counter.arrived(4), 0u);
}

// Indices wrap: waiting for index i forgets index i + 32768, so the next lap's messages
// count again.
TEST(ImmCounterTest, IndexWaitsWrap) {
  ImmCounter counter;
  int fired = 0;
  for (uint32_t k = 0; k < 2 * Immediate::kMaxPieces + 10; ++k) {
    const uint16_t index = static_cast<uint16_t>(k);
    ASSERT_TRUE(counter.expect_index(5, index, [&] { ++fired; }));
    ASSERT_EQ(fired, static_cast<int>(k)) << "message " << k << " was taken before it landed";
    ASSERT_TRUE(counter.on_immediate(Immediate::encode(5, index))) << "message " << k;
    counter.end_wait(5);
  }
  EXPECT_EQ(counter.duplicates(), 0u);
}

}  // namespace
}  // namespace ferry
