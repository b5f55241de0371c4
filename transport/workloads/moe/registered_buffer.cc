#include "transport/workloads/moe/registered_buffer.h"

#include <algorithm>

namespace ferry::moe {

RegisteredBuffer::~RegisteredBuffer() {
  if (bytes_.data() != nullptr && !engine_->deregister_memory(bytes_.data()).ok()) {
    bytes_.leak();  // still registered and in use: leaking beats a use after free
  }
}

VoidResult RegisteredBuffer::reserve(uint64_t bytes, bool exact) {
  if (bytes <= capacity_) return {};
  if (bytes_.data() != nullptr) {
    auto released = engine_->deregister_memory(bytes_.data());
    if (!released.ok()) return released;
  }
  const uint64_t grown = exact ? bytes : std::max(bytes, capacity_ + capacity_ / 2);
  bytes_ = MemoryBlock();
  capacity_ = 0;
  auto allocated = MemoryBlock::allocate(grown, kind_);
  if (!allocated.ok()) return allocated.error();
  bytes_ = std::move(allocated).value();
  auto registered = engine_->register_memory(bytes_.data(), grown,
                                             kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead, kind_);
  if (!registered.ok()) {
    bytes_ = MemoryBlock();
    return registered.error();
  }
  capacity_ = grown;
  return {};
}

}  // namespace ferry::moe
