#include "transport/workloads/moe/registered_buffer.h"

#include <algorithm>

namespace ferry::moe {

RegisteredBuffer::~RegisteredBuffer() {
  if (bytes_ && !engine_->deregister_memory(bytes_.get()).ok()) {
    (void)bytes_.release();  // still registered and in use: leaking beats a use after free
  }
}

VoidResult RegisteredBuffer::reserve(uint64_t bytes, bool exact) {
  if (bytes <= capacity_) return {};
  if (bytes_) {
    auto released = engine_->deregister_memory(bytes_.get());
    if (!released.ok()) return released;
  }
  const uint64_t grown = exact ? bytes : std::max(bytes, capacity_ + capacity_ / 2);
  bytes_.reset(new uint8_t[grown]);
  capacity_ = 0;
  auto registered = engine_->register_memory(bytes_.get(), grown);
  if (!registered.ok()) {
    bytes_.reset();
    return registered.error();
  }
  capacity_ = grown;
  return {};
}

}  // namespace ferry::moe
