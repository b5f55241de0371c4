#include "hw_tests/lane.h"

#include <sched.h>

#include <algorithm>
#include <span>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace ferry::qualify {

std::string Driver::collect(CompletionQueue& cq, size_t n, std::vector<Completion>* out) {
  out->clear();
  const uint64_t deadline = now() + timeout_ns_;
  uint64_t last_time = now();
  uint64_t empty_polls = 0, idle_blocks = 0;
  bool moved = false;
  Completion batch[16];
  while (out->size() < n) {
    const size_t want = std::min<size_t>(16, n - out->size());
    auto got = cq.poll(std::span(batch, want));
    if (!got.ok()) return "completion queue: " + got.error().to_string();
    out->insert(out->end(), batch, batch + *got);
    if (*got > 0) continue;
    moved |= progress();
    // The clock only every 1024 empty polls: where reading it is a system call (a guest
    // without a usable TSC), reading it on every poll takes the CPU from the NIC's work.
    if (++empty_polls % 1024 != 0) continue;
    const uint64_t t = now();
    if (t >= deadline) return "timed out after " + std::to_string(out->size()) + " of " + std::to_string(n) + " completions";
    // A virtual-time fabric with nothing left to do will never complete it.
    idle_blocks = (!moved && t == last_time) ? idle_blocks + 1 : 0;
    if (idle_blocks > 100) {
      return "the fabric went idle after " + std::to_string(out->size()) + " of " + std::to_string(n) + " completions";
    }
    last_time = t;
    moved = false;
  }
  return "";
}

bool Driver::stays_empty(CompletionQueue& cq) {
  for (int i = 0; i < 1000; ++i) {
    Completion c;
    auto got = cq.poll({&c, 1});
    if (!got.ok() || *got > 0) return false;
    progress();
  }
  return true;
}

std::string Driver::spin_until(const volatile uint8_t* byte, uint8_t value, uint64_t deadline_ns) {
  uint64_t spins = 0, idle_blocks = 0, last = now();
  bool moved = false;
  while (*byte != value) {
    moved |= progress();
    if (++spins % 1024 != 0) continue;
    // Let the kernel run what it deferred on this CPU: on Soft-RoCE the NIC is kernel
    // work that two spinning processes can otherwise hold off for a scheduler tick.
    sched_yield();
    const uint64_t t = now();
    if (t >= deadline_ns) return "the write never landed";
    // A virtual-time fabric with nothing left to do will never land it.
    idle_blocks = (!moved && t == last) ? idle_blocks + 1 : 0;
    if (idle_blocks > 10000) return "the fabric went idle";
    last = t;
    moved = false;
  }
  return "";
}

namespace {

#if defined(__x86_64__)
constexpr bool kHaveCycleCounter = true;
uint64_t read_cycle_counter() { return __rdtsc(); }
#elif defined(__aarch64__)
constexpr bool kHaveCycleCounter = true;
uint64_t read_cycle_counter() {
  uint64_t v;
  asm volatile("isb; mrs %0, cntvct_el0" : "=r"(v));
  return v;
}
#else
constexpr bool kHaveCycleCounter = false;
uint64_t read_cycle_counter() { return 0; }
#endif

}  // namespace

RoundTimer::RoundTimer(const Driver& driver, int rounds)
    : driver_(driver), cycles_(kHaveCycleCounter && driver.wall_time()) {
  stamps_.reserve(static_cast<size_t>(rounds) + 1);
}

void RoundTimer::stamp() {
  if (!cycles_) return stamps_.push_back(driver_.now());
  if (stamps_.empty()) first_ns_ = driver_.now();
  stamps_.push_back(read_cycle_counter());
}

double RoundTimer::median_ns() const {
  if (stamps_.size() < 2) return 0;
  double ns_per_stamp = 1;
  if (cycles_) {
    // The counter's rate, measured against the clock over the whole run (the clock is
    // read next to the first stamp and here, next to the last).
    const uint64_t span = stamps_.back() - stamps_.front();
    ns_per_stamp = span > 0 ? static_cast<double>(driver_.now() - first_ns_) / static_cast<double>(span) : 0;
  }
  // Signed gaps: a counter that differs between CPUs can step back when the thread
  // moves; such a round sorts low or high and leaves the median alone.
  std::vector<int64_t> gaps(stamps_.size() - 1);
  for (size_t i = 0; i + 1 < stamps_.size(); ++i) gaps[i] = static_cast<int64_t>(stamps_[i + 1] - stamps_[i]);
  std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
  return static_cast<double>(gaps[gaps.size() / 2]) * ns_per_stamp;
}

std::string open_side(Provider& provider, size_t rail, EndpointKind kind, size_t bytes, const EndpointConfig& tweaks,
                      Side* side) {
  Device& device = provider.device(rail);
  auto pd = device.create_protection_domain();
  if (!pd.ok()) return pd.error().to_string();
  side->pd = std::move(pd).value();
  auto cq = device.create_completion_queue(1024);
  if (!cq.ok()) return cq.error().to_string();
  side->cq = std::move(cq).value();
  side->buffer.assign(bytes, 0);
  auto region = side->pd->register_memory(side->buffer.data(), bytes, kAllAccess, MemoryKind::kHost);
  if (!region.ok()) return region.error().to_string();
  side->region = std::move(region).value();
  auto read_only = side->pd->register_memory(side->buffer.data(), bytes, kAccessLocalWrite, MemoryKind::kHost);
  if (!read_only.ok()) return read_only.error().to_string();
  side->read_only = std::move(read_only).value();
  EndpointConfig config = tweaks;
  config.kind = kind;
  config.send_cq = config.recv_cq = side->cq.get();
  auto endpoint = side->pd->create_endpoint(config);
  if (!endpoint.ok()) return endpoint.error().to_string();
  side->endpoint = std::move(endpoint).value();
  return "";
}

std::string compare(const Side& dst, uint64_t doff, const Side& src, uint64_t soff, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    if (dst.buffer[doff + i] != src.buffer[soff + i]) {
      return "byte " + std::to_string(doff + i) + " differs (" + std::to_string(dst.buffer[doff + i]) + " vs " +
             std::to_string(src.buffer[soff + i]) + ")";
    }
  }
  return "";
}

std::string compare_pattern(const Side& side, uint64_t off, uint64_t seed, uint64_t src_off, uint64_t n) {
  if (off + n > side.buffer.size()) return "range past the buffer";
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t want = pattern(seed, src_off + i);
    if (side.buffer[off + i] != want) {
      return "byte " + std::to_string(off + i) + " is " + std::to_string(side.buffer[off + i]) + ", expected " +
             std::to_string(want);
    }
  }
  return "";
}

std::string expect_status(const Completion& c, Status want, const char* what) {
  if (c.status == want) return "";
  return std::string(what) + ": got " + to_string(c.status) + ", expected " + to_string(want);
}

std::string expect_send_too_long(const Completion& c) {
  if (c.status == Status::kRemoteInvalidRequest || c.status == Status::kRemoteOperationError) return "";
  return std::string("send: got ") + to_string(c.status) + ", expected remote invalid request";
}

}  // namespace ferry::qualify
