#include "transport/workloads/moe/memory_block.h"

namespace ferry::moe {

Result<MemoryBlock> MemoryBlock::allocate(uint64_t bytes, MemoryKind kind) {
  MemoryBlock block;
  if (kind == MemoryKind::kHost) {
    block.host_.reset(new uint8_t[bytes]);
    block.data_ = block.host_.get();
  } else {
    auto device = ferry::gpu::DeviceBuffer::allocate(bytes);
    if (!device.ok()) return device.error();
    block.device_ = std::make_unique<ferry::gpu::DeviceBuffer>(std::move(device).value());
    block.data_ = block.device_->as<uint8_t>();
  }
  block.size_ = bytes;
  return block;
}

MemoryBlock& MemoryBlock::operator=(MemoryBlock&& other) noexcept {
  host_ = std::move(other.host_);
  device_ = std::move(other.device_);
  data_ = std::exchange(other.data_, nullptr);
  size_ = std::exchange(other.size_, 0);
  return *this;
}

void MemoryBlock::leak() {
  (void)host_.release();
  (void)device_.release();
  data_ = nullptr;
  size_ = 0;
}

}  // namespace ferry::moe
