// A completion queue: a ring that reports overflow from every poll once a completion
// was lost, never silently.
#pragma once

#include <cstdint>
#include <vector>

#include "transport/provider.h"

namespace ferry::sim {

class SimCompletionQueue final : public CompletionQueue {
 public:
  explicit SimCompletionQueue(uint32_t depth) : ring_(depth) {}
  Result<size_t> poll(std::span<Completion> out) override;
  uint32_t depth() const override { return static_cast<uint32_t>(ring_.size()); }

  // False when the queue was full: the completion is lost and the queue overflowed.
  bool push(const Completion& completion);

 private:
  std::vector<Completion> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
  uint64_t lost_ = 0;
};

}  // namespace ferry::sim
