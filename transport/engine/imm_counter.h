// ImmCounter: completion at the target, learned by counting immediates.
//
// The fabric contract promises delivery, not order (SRD reorders; striping over rails
// reorders everywhere), so "the last write arrived" means nothing. Instead every piece
// of a transfer carries a 32-bit immediate naming its transfer (tag) and its piece index,
// and the receiver counts distinct pieces per tag. expect(tag, count, callback) fires the
// callback exactly once, when `count` distinct pieces of `tag` have landed, whether they
// landed before or after the call.
//
// Exactly once: a piece resent after an ambiguous failure (its first copy may have
// landed) carries the same immediate, so the receiver sees a duplicate and does not count
// it again. A lost piece is never counted because only a landed immediate counts.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <vector>

namespace ferry {

// The immediate's layout: bits 31..16 the tag, bits 15..0 the piece index.
struct Immediate {
  static constexpr uint32_t kMaxPieces = 1u << 16;
  static constexpr uint32_t kMaxTags = 1u << 16;

  static uint32_t encode(uint16_t tag, uint16_t piece) {
    return (static_cast<uint32_t>(tag) << 16) | piece;
  }
  static uint16_t tag(uint32_t imm) { return static_cast<uint16_t>(imm >> 16); }
  static uint16_t piece(uint32_t imm) { return static_cast<uint16_t>(imm & 0xffff); }
};

class ImmCounter {
 public:
  using Callback = std::function<void()>;

  // Fires `done` once `count` distinct pieces of `tag` have landed (at once if they
  // already have). One expectation per tag at a time; count in [1, 65536].
  // Returns false (and does nothing) if the tag already has an expectation or count is
  // out of range.
  bool expect(uint16_t tag, uint32_t count, Callback done);

  // Fires `done` once piece `index` of `tag` has landed (at once if it has). Unlike an
  // expectation, the end of this wait (end_wait) keeps what landed: a later copy of a
  // piece already seen stays a duplicate until release(tag). A stream of messages on one
  // tag waits index by index, so neither a resend nor a second delivery of message k can
  // satisfy the wait for message k+1. The index half the index space behind `index` is
  // forgotten, so that a stream's indices may wrap. Same refusals as expect().
  bool expect_index(uint16_t tag, uint16_t index, Callback done);
  // Ends the wait or expectation on `tag` and keeps the pieces that landed.
  void end_wait(uint16_t tag);

  // Records one landed immediate. Returns false for a duplicate (already counted).
  bool on_immediate(uint32_t imm);

  // Distinct pieces of `tag` landed so far.
  uint32_t arrived(uint16_t tag) const;
  // Duplicates seen so far, over all tags (resends after ambiguous failures).
  uint64_t duplicates() const { return duplicates_; }

  // Forgets a tag (after its callback fired, or to cancel it) so that it can be reused.
  void release(uint16_t tag);

 private:
  struct TagState {
    std::vector<uint64_t> seen;  // one bit per piece index
    uint32_t distinct = 0;
    uint32_t expected = 0;  // 0: no expectation yet
    std::optional<uint16_t> index;  // expect_index: the piece waited for
    bool fired = false;
    Callback done;
  };
  void maybe_fire(TagState& state);
  static bool seen(const TagState& state, uint16_t piece);

  std::unordered_map<uint16_t, TagState> tags_;
  uint64_t duplicates_ = 0;
};

}  // namespace ferry
