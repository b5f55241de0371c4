#include "transport/proxy/channel.h"

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "transport/gpu/runtime.h"

namespace ferry::proxy {
namespace {

Error naming(const char* what, const Error& e) { return make_error(e.code, std::string(what) + ": " + e.message); }

}  // namespace

// Either plain host memory, or pinned host memory plus a GPU word for the ticket.
struct Channel::Memory {
  struct AlignedFree {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t{64}); }
  };
  std::unique_ptr<uint8_t[], AlignedFree> host;
  gpu::PinnedBuffer pinned;
  gpu::DeviceBuffer ticket;
};

Result<std::unique_ptr<Channel>> Channel::create(const ChannelOptions& o) {
  if (o.capacity == 0 || o.capacity > (1u << 24)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "channel capacity " + std::to_string(o.capacity) + " (1 to 2^24 descriptors)");
  }
  if (o.signals == 0 || o.signals > (1u << 16)) {
    return make_error(ErrorCode::kInvalidArgument, "channel signals " + std::to_string(o.signals) + " (1 to 65536)");
  }
  std::unique_ptr<Channel> channel(new Channel(o));
  auto memory = std::make_unique<Memory>();
  // Slots, then the proxy's words, then the counters, then (host producers) the ticket.
  const size_t slots = sizeof(Slot) * o.capacity;
  const size_t counters = sizeof(uint64_t) * o.signals;
  const size_t bytes = slots + sizeof(ProxyWords) + counters + 64;
  uint8_t* base = nullptr;
  if (o.producers == MemoryKind::kDevice) {
    auto pinned = gpu::PinnedBuffer::allocate(bytes);
    if (!pinned.ok()) return naming("channel ring in pinned host memory", pinned.error());
    memory->pinned = std::move(pinned).value();
    base = memory->pinned.as<uint8_t>();
    auto ticket = gpu::DeviceBuffer::allocate(sizeof(uint64_t));
    if (!ticket.ok()) return naming("channel ticket in GPU memory", ticket.error());
    memory->ticket = std::move(ticket).value();
    const uint64_t zero = 0;
    if (auto copied = gpu::copy(memory->ticket.data(), &zero, sizeof zero); !copied.ok()) {
      return naming("channel ticket in GPU memory", copied.error());
    }
    channel->context_.ticket = memory->ticket.as<uint64_t>();
  } else {
    memory->host.reset(new (std::align_val_t{64}) uint8_t[bytes]);
    base = memory->host.get();
    channel->context_.ticket = reinterpret_cast<uint64_t*>(base + bytes - 64);
  }
  std::memset(base, 0, bytes);
  channel->context_.slots = reinterpret_cast<Slot*>(base);
  channel->context_.words = reinterpret_cast<ProxyWords*>(base + slots);
  channel->context_.counters = reinterpret_cast<uint64_t*>(base + slots + sizeof(ProxyWords));
  channel->context_.capacity = o.capacity;
  channel->context_.signals = o.signals;
  channel->context_.timeout_ns = o.timeout_ns;
  channel->memory_ = std::move(memory);
  return channel;
}

Channel::Channel(const ChannelOptions& options) : options_(options) {}
Channel::~Channel() = default;

}  // namespace ferry::proxy
