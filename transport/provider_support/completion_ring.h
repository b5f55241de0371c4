// The completion queue every software provider needs: a ring of fixed depth that, once
// a completion did not fit, reports the overflow from every later poll — never a
// completion lost silently. Not thread-safe: a provider with threads locks around it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "transport/provider.h"

namespace ferry {

class CompletionRing {
 public:
  explicit CompletionRing(uint32_t depth) : ring_(depth) {}

  uint32_t depth() const { return static_cast<uint32_t>(ring_.size()); }
  // False when the ring was full (or had already overflowed): the completion is lost.
  bool push(const Completion& completion);
  // Up to out.size() completions, oldest first; kResourceExhausted once one was lost.
  Result<size_t> poll(std::span<Completion> out);

 private:
  std::vector<Completion> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
  uint64_t lost_ = 0;
};

}  // namespace ferry
