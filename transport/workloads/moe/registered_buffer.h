// RegisteredBuffer: memory the engine sends from, registered on every rail, in host or
// GPU memory. Low-latency mode reserves it once, at setup, for the worst case; normal
// mode grows it to what a call needs, so that a registration happens only when it grows.
#pragma once

#include <cstdint>
#include "transport/engine/engine.h"
#include "transport/workloads/moe/memory_block.h"

namespace ferry::moe {

class RegisteredBuffer {
 public:
  RegisteredBuffer(Engine& engine, MemoryKind kind) : engine_(&engine), kind_(kind) {}
  // Deregisters. If the engine still reads from it (pieces of a failed call on the
  // wire), the memory is left allocated rather than freed under a transfer.
  ~RegisteredBuffer();
  RegisteredBuffer(const RegisteredBuffer&) = delete;
  RegisteredBuffer& operator=(const RegisteredBuffer&) = delete;

  // Makes room for `bytes`: `exact` for a one-off worst case, otherwise with headroom so
  // that growing calls register rarely. Fails if the engine refuses to deregister the
  // old memory (still in use) or to register the new, or GPU memory cannot be had.
  VoidResult reserve(uint64_t bytes, bool exact = false);

  uint8_t* data() const { return bytes_.data(); }
  uint64_t capacity() const { return capacity_; }

 private:
  Engine* engine_;
  MemoryKind kind_;
  MemoryBlock bytes_;
  uint64_t capacity_ = 0;
};

}  // namespace ferry::moe
