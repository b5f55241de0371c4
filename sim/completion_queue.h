// A completion queue: a ring that reports overflow from every poll once a completion
// was lost, never silently.
#pragma once

#include <cstdint>

#include "transport/provider.h"
#include "transport/provider_support/completion_ring.h"

namespace ferry::sim {

class SimCompletionQueue final : public CompletionQueue {
 public:
  explicit SimCompletionQueue(uint32_t depth) : ring_(depth) {}
  Result<size_t> poll(std::span<Completion> out) override { return ring_.poll(out); }
  uint32_t depth() const override { return ring_.depth(); }

  // False when the queue was full: the completion is lost and the queue overflowed.
  bool push(const Completion& completion) { return ring_.push(completion); }

 private:
  CompletionRing ring_;
};

}  // namespace ferry::sim
