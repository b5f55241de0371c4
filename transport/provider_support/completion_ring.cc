#include "transport/provider_support/completion_ring.h"

#include <string>

namespace ferry {

bool CompletionRing::push(const Completion& completion) {
  if (count_ == ring_.size() || lost_ > 0) {
    ++lost_;
    return false;
  }
  // A wrap by subtraction, not a division: this runs once per work request.
  size_t tail = head_ + count_;
  if (tail >= ring_.size()) tail -= ring_.size();
  ring_[tail] = completion;
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
    if (++head_ == ring_.size()) head_ = 0;
    --count_;
  }
  return n;
}

}  // namespace ferry
