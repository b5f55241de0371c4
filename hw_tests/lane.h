// The pieces every check of the qualification suite is made of: one side of a link (a
// domain, a completion queue, a buffer with canaries, an endpoint), the byte pattern
// that checks fill and verify, and the loop that collects completions on the providers'
// clock. Shared by the single-process suite (qualify.cc) and the two-process one
// (peer_suite.cc).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "transport/provider.h"

namespace ferry::qualify {

constexpr uint32_t kAllAccess = kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead;
constexpr uint8_t kCanary = 0xa5;

// Byte i of the pattern seeded `seed`: either side can compute what the other wrote.
inline uint8_t pattern(uint64_t seed, uint64_t i) {
  return static_cast<uint8_t>((i * 31 + seed * 17 + (i >> 9)) & 0xff);
}

// How the bandwidth checks post, after perftest's ib_*_bw: up to 128 requests and
// 32 MiB in flight (ib_write_bw's depth at 1 MiB). Small messages go 16 per post call
// with only the last of each batch signalled, where posting costs count; from 256 KiB
// on, one per call, each signalled, as ib_write_bw posts them (on Soft-RoCE, batches of
// large writes ran at half its rate).
struct BandwidthWindow {
  int window;  // requests in flight at most, a multiple of batch
  int batch;   // requests per post call
};
inline BandwidthWindow bandwidth_window(uint64_t bytes) {
  const int window = static_cast<int>(std::clamp<uint64_t>((32ull << 20) / std::max<uint64_t>(bytes, 1), 2, 128));
  const int batch = bytes >= (256 << 10) ? 1 : std::min(16, window / 2);
  return {window - window % batch, batch};
}

// Polls completion queues while driving both providers (the same one twice when only
// one side is in this process), on the providers' clock.
class Driver {
 public:
  Driver(Provider& a, Provider& b, uint64_t timeout_ns) : a_(a), b_(b), timeout_ns_(timeout_ns) {}

  // Collects exactly `n` completions from `cq` (more would stay queued). Empty string on
  // success, else why not.
  std::string collect(CompletionQueue& cq, size_t n, std::vector<Completion>* out);
  // Whether nothing arrives on `cq` while the fabric settles for a while.
  bool stays_empty(CompletionQueue& cq);
  // Spins until *byte == value (a peer's write landing), driving the providers; reads
  // the clock (and yields the CPU) only every 1024 spins, so that spinning costs what
  // perftest's does. Empty string on success, else why not.
  std::string spin_until(const volatile uint8_t* byte, uint8_t value, uint64_t deadline_ns);
  uint64_t now() const { return a_.clock().now_ns(); }
  bool wall_time() const { return a_.clock().is_wall_time(); }
  uint64_t timeout_ns() const { return timeout_ns_; }
  // One provider's step at a time: with a virtual-time provider each progress() moves the
  // clock, so stepping the second after the first delivered a completion would read the
  // completion's time past the instant it happened (up to the next pending timer).
  bool progress() { return a_.progress() || (&a_ != &b_ && b_.progress()); }

 private:
  Provider& a_;
  Provider& b_;
  uint64_t timeout_ns_;
};

// Times the rounds of a ping-pong as perftest does: a stamp at the start of every round
// and one after the last; the figure is the median gap. Where the providers' clock is
// real time, stamps come from the CPU's cycle counter, scaled to the clock over the
// run: it costs nanoseconds to read where the clock can cost a microsecond (a guest
// whose kernel distrusts its TSC reads the HPET through a system call), which would
// otherwise count in every round.
class RoundTimer {
 public:
  RoundTimer(const Driver& driver, int rounds);
  void stamp();
  // The median gap between consecutive stamps, in ns; needs two stamps or more.
  double median_ns() const;

 private:
  const Driver& driver_;
  const bool cycles_;
  uint64_t first_ns_ = 0;
  std::vector<uint64_t> stamps_;
};

// Page-aligned memory for lane buffers, as perftest registers: a buffer that starts
// mid-page splits more of the NIC's copies across pages.
template <typename T>
struct PageAlignedAllocator {
  using value_type = T;
  static constexpr size_t kPage = 4096;
  PageAlignedAllocator() = default;
  template <typename U>
  PageAlignedAllocator(const PageAlignedAllocator<U>&) {}
  T* allocate(size_t n) {
    void* p = std::aligned_alloc(kPage, (n * sizeof(T) + kPage - 1) / kPage * kPage);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <typename U>
  bool operator==(const PageAlignedAllocator<U>&) const { return true; }
};

// One side of a lane: a domain, a queue, a buffer with canaries around its window.
struct Side {
  std::unique_ptr<ProtectionDomain> pd;
  std::unique_ptr<CompletionQueue> cq;
  std::vector<uint8_t, PageAlignedAllocator<uint8_t>> buffer;
  std::unique_ptr<MemoryRegion> region;     // all rights
  std::unique_ptr<MemoryRegion> read_only;  // local write only: no remote rights
  std::unique_ptr<Endpoint> endpoint;

  uint64_t addr(uint64_t offset = 0) const { return reinterpret_cast<uint64_t>(buffer.data()) + offset; }
  Sge sge(uint64_t offset, uint32_t length) const { return Sge{addr(offset), length, region->lkey()}; }
  void fill(uint64_t seed) {
    for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = pattern(seed, i);
  }
  void canary() { std::fill(buffer.begin(), buffer.end(), kCanary); }
  bool untouched() const {
    return std::all_of(buffer.begin(), buffer.end(), [](uint8_t b) { return b == kCanary; });
  }
};

// Opens `side` on rail `rail` of `provider`, its endpoint not yet connected. Empty string
// on success, else why not.
std::string open_side(Provider& provider, size_t rail, EndpointKind kind, size_t bytes, const EndpointConfig& tweaks,
                      Side* side);

// Returns "" if dst[doff, +n) equals src[soff, +n).
std::string compare(const Side& dst, uint64_t doff, const Side& src, uint64_t soff, uint64_t n);
// Returns "" if side.buffer[off, +n) holds pattern(seed, src_off + i) for i in [0, n):
// what a peer's buffer filled with `seed` carried from its offset `src_off`.
std::string compare_pattern(const Side& side, uint64_t off, uint64_t seed, uint64_t src_off, uint64_t n);

std::string expect_status(const Completion& c, Status want, const char* what);
// A send longer than the posted receive: responders report it as an invalid request
// (rxe, mlx5) or as an operation error. Empty string when `c` is one of those.
std::string expect_send_too_long(const Completion& c);

}  // namespace ferry::qualify
