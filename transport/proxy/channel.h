// Channel: the memory of one descriptor ring and what the proxy reports back on it (the
// completion counters, the completed watermark, the status word), owned on the host and
// handed to producers as a proxy::Context (ring.h).
//
// For kernels (producers = kDevice) the ring, the counters and the status live in pinned
// host memory, which the GPU reaches at the same address (unified addressing: every
// pinned allocation is mapped), and the ticket counter in GPU memory. For host producers
// everything is plain host memory and no CUDA call is made.
#pragma once

#include <cstdint>
#include <memory>

#include "transport/provider.h"
#include "transport/proxy/ring.h"
#include "transport/result.h"

namespace ferry::proxy {

struct ChannelOptions {
  uint32_t capacity = 1024;  // descriptors the ring holds
  uint32_t signals = 64;     // completion counters
  uint64_t timeout_ns = 5'000'000'000;  // bound of every producer spin
  MemoryKind producers = MemoryKind::kHost;  // kDevice: kernels produce
};

class Channel {
 public:
  // An error naming the option out of range, or the allocation that failed (kDevice
  // without a GPU: the runtime's reason).
  static Result<std::unique_ptr<Channel>> create(const ChannelOptions& options);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // The producers' handle: pass by value to a kernel, or to a host thread.
  const Context& context() const { return context_; }
  const ChannelOptions& options() const { return options_; }

  // Host-side reads of what the proxy wrote (acquire).
  uint64_t counter(uint32_t signal) const { return load_acquire(&context_.counters[signal]); }
  uint64_t completed() const { return load_acquire(&context_.words->completed); }
  Status status() const { return proxy::status(context_); }

 private:
  explicit Channel(const ChannelOptions& options);
  struct Memory;
  ChannelOptions options_;
  Context context_;
  std::unique_ptr<Memory> memory_;
};

}  // namespace ferry::proxy
