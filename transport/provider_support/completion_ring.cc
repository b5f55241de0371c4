#include "transport/provider_support/completion_ring.h"

#include <string>

namespace ferry {

bool CompletionRing::push(const Completion& completion) {
  if (count_ == ring_.size() || lost_ > 0) {
    ++lost_;
    return false;
  }
  ring_[(head_ + count_) % ring_.size()] = completion;
  ++count_;
  return true;
}

Result<size_t> CompletionRing::poll(std::span<Completion> out) {
  if (lost_ > 0) {
    return make_error(ErrorCode::kResourceExhausted,
                      "completion queue of depth " + std::to_string(ring_.size()) +
                          " overflowed: " + std::to_string(lost_) + " completion(s) lost");
  }
  size_t n = 0;
  while (n < out.size() && count_ > 0) {
    out[n++] = ring_[head_];
    head_ = (head_ + 1) % ring_.size();
    --count_;
  }
  return n;
}

}  // namespace ferry
