// The agreement both ends of a link compute on their own: limits, slot layout, tags.
#include "transport/workloads/pp/stage_link.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

namespace ferry::pp {
namespace {

TEST(StageLink, RefusesWhatTheTagRuleCannotCover) {
  EXPECT_TRUE((StageLink{0, 1, 1}.validate().ok()));
  EXPECT_TRUE((StageLink{StageLink::kMaxLinks - 1, StageLink::kMaxCredits, 1}.validate().ok()));
  EXPECT_EQ((StageLink{0, 0, 1}.validate().error().code), ErrorCode::kOutOfRange);
  EXPECT_EQ((StageLink{0, StageLink::kMaxCredits + 1, 1}.validate().error().code), ErrorCode::kOutOfRange);
  EXPECT_EQ((StageLink{StageLink::kMaxLinks, 4, 1}.validate().error().code), ErrorCode::kOutOfRange);
  EXPECT_EQ((StageLink{0, 4, 0}.validate().error().code), ErrorCode::kInvalidArgument);
  // So large a message made slot_stride() wrap to a few bytes while a header could still
  // name that many: a payload far past the receive area.
  EXPECT_EQ((StageLink{0, 4, ~uint64_t{0}}.validate().error().code), ErrorCode::kInvalidArgument);
  EXPECT_TRUE((StageLink{0, StageLink::kMaxCredits, StageLink::kMaxMessageBytes}.validate().ok()));
}

TEST(StageLink, ParsesOnlyTheHeaderOfTheExpectedMicroBatchThatFits) {
  const StageLink link{0, 4, 100};
  auto bytes_of = [](SlotHeader h) {
    std::vector<uint8_t> out(sizeof h);
    std::memcpy(out.data(), &h, sizeof h);
    return out;
  };
  auto ok = link.parse_header(bytes_of({7, 100}), 7);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(ok->bytes, 100u);
  EXPECT_NE(link.parse_header(bytes_of({6, 10}), 7).error().message.find("names micro-batch 6"), std::string::npos);
  EXPECT_NE(link.parse_header(bytes_of({7, 101}), 7).error().message.find("of at most 100"), std::string::npos);
  EXPECT_NE(link.parse_header(std::vector<uint8_t>(15), 7).error().message.find("15 bytes"), std::string::npos);
}

TEST(StageLink, SlotsHoldAHeaderAndAnAlignedPayload) {
  const StageLink link{0, 3, 1000};
  EXPECT_EQ(link.slot_stride() % 64, 0u);
  EXPECT_GE(link.slot_stride(), StageLink::kPayloadOffset + 1000);
  EXPECT_GE(StageLink::kPayloadOffset, sizeof(SlotHeader));
  EXPECT_EQ(link.receive_area_bytes(), 3 * link.slot_stride());
  EXPECT_EQ(link.slot_offset(0), 0u);
  EXPECT_EQ(link.slot_offset(4), link.slot_stride());
  EXPECT_EQ(link.slot_offset(5), 2 * link.slot_stride());
}

// One write carries header and payload: the header ends where the payload starts.
TEST(StageLink, TheHeaderLiesRightInFrontOfThePayload) {
  EXPECT_EQ(StageLink::kHeaderOffset + sizeof(SlotHeader), StageLink::kPayloadOffset);
}

// A sender's writes in flight stay within the slots and leave the tag rule its margin:
// in flight + credits <= the tag window.
TEST(StageLink, WritesInFlightStayWithinTheSlotsAndTheTagWindow) {
  EXPECT_EQ((StageLink{0, 1, 1}.max_in_flight()), 1u);
  EXPECT_EQ((StageLink{0, 4, 1}.max_in_flight()), 4u);
  EXPECT_EQ((StageLink{0, 32, 1}.max_in_flight()), 32u);
  EXPECT_EQ((StageLink{0, 40, 1}.max_in_flight()), 24u);
  EXPECT_EQ((StageLink{0, StageLink::kMaxCredits, 1}.max_in_flight()), 1u);
  for (uint32_t credits = 1; credits <= StageLink::kMaxCredits; ++credits) {
    const uint32_t window = StageLink{0, credits, 1}.max_in_flight();
    EXPECT_GE(window, 1u);
    EXPECT_LE(window, credits);
    EXPECT_LE(window + credits, StageLink::kTagWindow);
    EXPECT_LE(window * sizeof(SlotHeader), StageLink::kSenderScratchBytes);
  }
}

TEST(StageLink, EveryLinkHasItsOwnTagsInThePipelineSpace) {
  std::set<uint16_t> seen;
  for (uint16_t id = 0; id < StageLink::kMaxLinks; ++id) {
    const StageLink link{id, StageLink::kMaxCredits, 1};
    for (uint64_t seq = 0; seq < StageLink::kTagWindow; ++seq) {
      for (uint16_t tag : {link.data_tag(seq), link.credit_tag(seq)}) {
        EXPECT_EQ(tag & 0xe000, static_cast<uint16_t>(TagSpace::kPipeline)) << tag;
        EXPECT_TRUE(seen.insert(tag).second) << "tag " << tag << " used twice";
      }
    }
  }
  EXPECT_EQ(seen.size(), size_t{kTagsPerSpace});
}

TEST(StageLink, TagsComeBackOnlyAfterAWindowLongerThanTheCredits) {
  const StageLink link{5, StageLink::kMaxCredits, 1};
  for (uint64_t seq = 0; seq < 3 * StageLink::kTagWindow; ++seq) {
    EXPECT_EQ(link.data_tag(seq), link.data_tag(seq + StageLink::kTagWindow));
    for (uint64_t later = seq + 1; later <= seq + link.credits; ++later) {
      EXPECT_NE(link.data_tag(seq), link.data_tag(later));
      EXPECT_NE(link.credit_tag(seq), link.credit_tag(later));
    }
  }
}

}  // namespace
}  // namespace ferry::pp
