#include "transport/engine/imm_counter.h"

#include <utility>

namespace ferry {

bool ImmCounter::expect(uint16_t tag, uint32_t count, Callback done) {
  if (count == 0 || count > Immediate::kMaxPieces) return false;
  TagState& state = tags_[tag];
  if (state.expected != 0) return false;
  state.expected = count;
  state.done = std::move(done);
  maybe_fire(state);
  return true;
}

bool ImmCounter::expect_index(uint16_t tag, uint16_t index, Callback done) {
  TagState& state = tags_[tag];
  if (state.expected != 0) return false;
  const uint16_t behind = static_cast<uint16_t>(index + Immediate::kMaxPieces / 2);
  if (seen(state, behind)) {
    state.seen[behind / 64] &= ~(uint64_t{1} << (behind % 64));
    --state.distinct;
  }
  state.expected = 1;
  state.index = index;
  state.done = std::move(done);
  maybe_fire(state);
  return true;
}

void ImmCounter::end_wait(uint16_t tag) {
  auto it = tags_.find(tag);
  if (it == tags_.end()) return;
  TagState& state = it->second;
  state.expected = 0;
  state.index.reset();
  state.fired = false;
  state.done = nullptr;
}

bool ImmCounter::seen(const TagState& state, uint16_t piece) {
  const size_t word = piece / 64;
  return word < state.seen.size() && (state.seen[word] & (uint64_t{1} << (piece % 64))) != 0;
}

bool ImmCounter::on_immediate(uint32_t imm) {
  TagState& state = tags_[Immediate::tag(imm)];
  const uint16_t piece = Immediate::piece(imm);
  const size_t word = piece / 64;
  if (state.seen.size() <= word) state.seen.resize(word + 1, 0);
  const uint64_t bit = uint64_t{1} << (piece % 64);
  if (state.seen[word] & bit) {
    ++duplicates_;
    return false;
  }
  state.seen[word] |= bit;
  ++state.distinct;
  maybe_fire(state);
  return true;
}

void ImmCounter::maybe_fire(TagState& state) {
  if (state.fired || state.expected == 0) return;
  if (state.index ? !seen(state, *state.index) : state.distinct < state.expected) return;
  state.fired = true;
  // Move the callback out first: it may call release() on this very tag.
  Callback done = std::move(state.done);
  if (done) done();
}

uint32_t ImmCounter::arrived(uint16_t tag) const {
  auto it = tags_.find(tag);
  return it == tags_.end() ? 0 : it->second.distinct;
}

void ImmCounter::release(uint16_t tag) { tags_.erase(tag); }

}  // namespace ferry
