// The descriptor ring between producers (GPU threads, or host threads standing in for
// them) and the host proxy that posts their transfers (docs/device-api.md).
//
// Plain structs and functions that compile as host C++ and as CUDA device code: the same
// producer calls (put, put_signal, signal, wait, quiet) run in a kernel and in a CPU test.
//
// Layout: `capacity` fixed-size slots in memory both sides reach (pinned, mapped host
// memory for a GPU producer; any host memory for host producers). A producer reserves
// ticket t with a compare-and-swap on the ticket counter, only once slot t % capacity is
// free (t < released + capacity), writes the descriptor, then publishes it by writing the
// slot's sequence number t + 1 last, after a system-scope fence. The proxy reads slot
// after slot in ticket order, copies the descriptor out once its sequence number reads
// t + 1 (acquire), and then advances `released` (release), which frees the slot.
//
// The ticket counter lives where the producers' atomics are atomic: GPU memory for GPU
// producers (atomics on mapped host memory are not atomic across the PCIe bus), host
// memory for host producers. The proxy never reads it; only quiet() does, on the
// producers' side.
#pragma once

#include <cstdint>

#ifndef __CUDA_ARCH__
#include <atomic>
#include <chrono>
#include <thread>
#endif

#if defined(__CUDACC__)
#define FERRY_HD __host__ __device__ __forceinline__
#else
#define FERRY_HD inline
#endif

namespace ferry::proxy {

enum class Op : uint32_t {
  kPut = 1,        // bytes from the local window to the peer's window
  kPutSignal = 2,  // a put, then signal `signal` by `value` once it completed
  kSignal = 3,     // a notification to the peer, then signal `signal` by `value`
};

// What a producer call returns, and what the proxy writes into a channel's status word
// (its first error; 0 while everything went well).
enum class Status : uint32_t {
  kOk = 0,
  kTimeout = 1,         // producer side: the ring stayed full, or a wait ran out of time
  kUnknownPeer = 2,     // proxy side, from here on
  kOutOfWindow = 3,     // the local or the remote range leaves its registered window
  kBadDescriptor = 4,   // an unknown op, zero bytes, a signal id the channel lacks
  kTransferFailed = 5,  // the engine refused the transfer, or it failed
  kStopped = 6,         // the proxy stopped with descriptors not yet done
};

FERRY_HD const char* to_string(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kTimeout: return "timeout";
    case Status::kUnknownPeer: return "unknown peer";
    case Status::kOutOfWindow: return "out of window";
    case Status::kBadDescriptor: return "bad descriptor";
    case Status::kTransferFailed: return "transfer failed";
    case Status::kStopped: return "proxy stopped";
  }
  return "unknown status";
}

struct Descriptor {
  uint64_t local_offset = 0;   // in the proxy's registered local window
  uint64_t remote_offset = 0;  // in the peer's window
  uint64_t bytes = 0;
  uint64_t value = 0;          // added to the signal's counter once done
  uint32_t peer = 0;           // rank in the proxy's peer table
  uint32_t signal = 0;         // counter index (put-signal, signal)
  Op op = Op::kPut;
  uint32_t reserved = 0;
};

// One slot: the descriptor, then the sequence number that publishes it.
struct alignas(64) Slot {
  Descriptor descriptor;
  uint64_t sequence;  // t + 1 once ticket t's descriptor is complete; 0: never written
};
static_assert(sizeof(Slot) == 64, "a slot is one cache line");

// What the proxy writes and producers read, in the same memory as the slots (mapped).
struct alignas(64) ProxyWords {
  uint64_t released;                // slots the proxy took: ticket t's slot is free once t < released + capacity
  alignas(64) uint64_t completed;   // tickets [0, completed) are all done (ok or failed)
  alignas(64) uint32_t status;      // the channel's first error (a Status), 0 while none
};

// Everything a producer needs, by value: a kernel argument, or a host thread's copy.
struct Context {
  Slot* slots = nullptr;
  uint64_t* ticket = nullptr;          // producers' side (see above)
  ProxyWords* words = nullptr;         // written by the proxy only
  uint64_t* counters = nullptr;        // [signals], written by the proxy only, never decrease
  uint32_t capacity = 0;
  uint32_t signals = 0;
  uint64_t timeout_ns = 0;             // bound of every spin: a full ring, a wait, quiet
};

// --- Memory ordering primitives --------------------------------------------------------
// Device: system-scope PTX (the other side is the host). Host: std::atomic_ref, which
// TSan understands; x86 keeps stores in order, the atomics keep the compiler from moving them.

FERRY_HD uint64_t load_acquire(const uint64_t* p) {
#ifdef __CUDA_ARCH__
  uint64_t v;
  asm volatile("ld.acquire.sys.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
  return v;
#else
  return std::atomic_ref<uint64_t>(*const_cast<uint64_t*>(p)).load(std::memory_order_acquire);
#endif
}

FERRY_HD uint32_t load_acquire(const uint32_t* p) {
#ifdef __CUDA_ARCH__
  uint32_t v;
  asm volatile("ld.acquire.sys.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
#else
  return std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(p)).load(std::memory_order_acquire);
#endif
}

// Everything this thread wrote before is visible, to the proxy too, before *p = v is.
FERRY_HD void store_release(uint64_t* p, uint64_t v) {
#ifdef __CUDA_ARCH__
  __threadfence_system();
  asm volatile("st.relaxed.sys.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
#else
  std::atomic_ref<uint64_t>(*p).store(v, std::memory_order_release);
#endif
}

// The ticket counter: GPU memory for kernels (device-scope atomics among the GPU's
// threads), host memory for host producers.
FERRY_HD uint64_t ticket_load(uint64_t* ticket) {
#ifdef __CUDA_ARCH__
  return *static_cast<volatile uint64_t*>(ticket);
#else
  return std::atomic_ref<uint64_t>(*ticket).load(std::memory_order_acquire);
#endif
}

FERRY_HD bool ticket_take(uint64_t* ticket, uint64_t& expected) {
#ifdef __CUDA_ARCH__
  const auto seen = atomicCAS(reinterpret_cast<unsigned long long*>(ticket),
                              static_cast<unsigned long long>(expected),
                              static_cast<unsigned long long>(expected + 1));
  const bool taken = seen == expected;
  expected = seen;
  return taken;
#else
  return std::atomic_ref<uint64_t>(*ticket).compare_exchange_weak(expected, expected + 1,
                                                                  std::memory_order_acq_rel);
#endif
}

FERRY_HD uint64_t now_ns() {
#ifdef __CUDA_ARCH__
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
#else
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
#endif
}

// Between two polls of memory the other side writes: lets the other side's traffic (and,
// on the host, the other threads) through.
FERRY_HD void backoff() {
#ifdef __CUDA_ARCH__
  __nanosleep(100);
#else
  std::this_thread::yield();
#endif
}

// --- Producer side ---------------------------------------------------------------------

// The proxy's first error on this channel (kOk while none).
FERRY_HD Status status(const Context& c) { return static_cast<Status>(load_acquire(&c.words->status)); }

// Reserves a slot (spinning, within the timeout, while the ring is full), writes `d` and
// publishes it. kTimeout leaves the ring as it was: no ticket was taken.
FERRY_HD Status push(const Context& c, const Descriptor& d) {
  uint64_t t = ticket_load(c.ticket);
  uint64_t started = 0;
  for (;;) {
    // Acquire: the proxy's copy of the slot's old descriptor happened before we overwrite it.
    if (t < load_acquire(&c.words->released) + c.capacity) {
      if (ticket_take(c.ticket, t)) break;
      continue;  // another producer took t; t now holds the current ticket
    }
    const uint64_t now = now_ns();
    if (started == 0) started = now;
    if (now - started > c.timeout_ns) return Status::kTimeout;
    backoff();
    t = ticket_load(c.ticket);
  }
  Slot& slot = c.slots[t % c.capacity];
  slot.descriptor = d;
  store_release(&slot.sequence, t + 1);
  return Status::kOk;
}

FERRY_HD Status put(const Context& c, uint32_t peer, uint64_t local_offset, uint64_t remote_offset,
                    uint64_t bytes) {
  Descriptor d;
  d.op = Op::kPut;
  d.peer = peer;
  d.local_offset = local_offset;
  d.remote_offset = remote_offset;
  d.bytes = bytes;
  return push(c, d);
}

FERRY_HD Status put_signal(const Context& c, uint32_t peer, uint64_t local_offset, uint64_t remote_offset,
                           uint64_t bytes, uint32_t signal, uint64_t value = 1) {
  Descriptor d;
  d.op = Op::kPutSignal;
  d.peer = peer;
  d.local_offset = local_offset;
  d.remote_offset = remote_offset;
  d.bytes = bytes;
  d.signal = signal;
  d.value = value;
  return push(c, d);
}

FERRY_HD Status signal(const Context& c, uint32_t peer, uint32_t signal, uint64_t value = 1) {
  Descriptor d;
  d.op = Op::kSignal;
  d.peer = peer;
  d.signal = signal;
  d.value = value;
  return push(c, d);
}

// Spins until `done()` holds, the timeout passed, or the proxy reported an error on the
// channel (returned): any error when `any_error`, else only kStopped (nothing more will
// be done).
template <typename Done>
FERRY_HD Status spin_until(const Context& c, bool any_error, Done done) {
  uint64_t started = 0;
  for (;;) {
    if (done()) return Status::kOk;
    if (const Status s = status(c); s == Status::kStopped || (any_error && s != Status::kOk)) return s;
    const uint64_t now = now_ns();
    if (started == 0) started = now;
    if (now - started > c.timeout_ns) return Status::kTimeout;
    backoff();
  }
}

// Until signal `signal`'s counter reached `value` (counters only grow). The channel's
// status is sticky: once a descriptor failed, a wait that has not yet seen its value ends
// with that first error at once (the failed transfer may be the one it waits for).
FERRY_HD Status wait(const Context& c, uint32_t signal, uint64_t value) {
  if (signal >= c.signals) return Status::kBadDescriptor;
  return spin_until(c, true, [&] { return load_acquire(&c.counters[signal]) >= value; });
}

// Until every descriptor reserved on the channel before this call is done (well or not:
// the proxy ends each one); then the channel's status, kOk if none ever failed.
FERRY_HD Status quiet(const Context& c) {
  const uint64_t issued = ticket_load(c.ticket);
  const Status s = spin_until(c, false, [&] { return load_acquire(&c.words->completed) >= issued; });
  return s == Status::kOk ? status(c) : s;
}

// --- Consumer side (the proxy, on the host) ---------------------------------------------

// Whether ticket t's descriptor is published (nothing taken).
inline bool published(const Context& c, uint64_t t) {
  return load_acquire(&c.slots[t % c.capacity].sequence) == t + 1;
}

// Copies ticket t's descriptor out once published and frees its slot; tickets are taken
// in order, one consumer per ring.
inline bool take(const Context& c, uint64_t t, Descriptor& out) {
  if (!published(c, t)) return false;
  out = c.slots[t % c.capacity].descriptor;
  store_release(&c.words->released, t + 1);
  return true;
}

}  // namespace ferry::proxy
