// What one ipc provider publishes in its POSIX shared-memory segment, read and written by
// the processes connected to it: its registration table and, per endpoint, the ring of
// posted receives and the ring of target-side completions. Every field a peer touches is
// an address-free atomic or written before an atomic publishes it.
#pragma once

#include <atomic>
#include <cstdint>

#include "transport/gpu/runtime.h"
#include "transport/provider.h"

namespace ferry::ipc {

inline constexpr uint32_t kSegmentMagic = 0x43504946;  // "FIPC"
inline constexpr uint32_t kSegmentVersion = 1;
inline constexpr uint32_t kMaxRegions = 4096;
inline constexpr uint32_t kMaxEndpoints = 128;
inline constexpr uint32_t kMaxSge = 16;
inline constexpr uint32_t kRecvRing = 512;  // the device's max_recv_wr
// Room for every posted recv's completion, and one more whose recv a peer claimed while
// its owner posted another.
inline constexpr uint32_t kDoneRing = 2 * kRecvRing;
inline constexpr uint32_t kIpcHandleBytes = gpu::kIpcHandleBytes;

static_assert(std::atomic<uint32_t>::is_always_lock_free && std::atomic<uint64_t>::is_always_lock_free,
              "shared-memory atomics must be lock-free to be address-free");

// A slot that peers use while its owner may retire it. A peer enters (users + 1, then
// reads the id it expects); the owner retires it (id = 0, then waits until users is 0).
// Sequentially consistent on both sides, so either the peer sees the retired id or the
// owner sees the peer: a retired slot's memory is never touched after retire() returns.
struct Gate {
  std::atomic<uint32_t> id{0};
  std::atomic<uint32_t> users{0};
};

// True when the gate holds `id`; the caller then leaves it once done.
bool enter(Gate& gate, uint32_t id);
void leave(Gate& gate);
// Closes the gate and waits (bounded: a peer that died inside it never leaves) until
// nobody is inside.
void retire(Gate& gate);

// One registration. Its key is also the gate's id: 0 while the slot is free.
struct RegionEntry {
  Gate gate;
  uint32_t pd_id = 0;
  uint32_t access = 0;
  uint8_t kind = 0;  // MemoryKind
  int32_t gpu = -1;
  uint64_t addr = 0;    // in the owner's address space (its GPU's, for kDevice)
  uint64_t length = 0;
  uint64_t alloc_offset = 0;  // kDevice: addr minus the allocation's base
  uint8_t ipc_handle[kIpcHandleBytes] = {};
};

struct RecvSlot {
  uint64_t cookie = 0;
  uint32_t num_sge = 0;
  Sge sges[kMaxSge];
};

// One endpoint. The gate's id is the endpoint's id.
struct EndpointSlot {
  Gate gate;
  uint32_t pd_id = 0;
  uint8_t kind = 0;  // EndpointKind
  // Who it is connected to: the peer's pid and endpoint id (0 until connect()). A peer
  // only acts on an endpoint connected back to it, so each ring has one producer.
  std::atomic<int32_t> peer_pid{0};
  std::atomic<uint32_t> peer_endpoint{0};
  std::atomic<uint32_t> peer_salt{0};  // tells apart providers of one process
  // Set by the peer when an operation failed at this end (RC): the owner moves to the
  // error state and flushes at its next call.
  std::atomic<uint32_t> error_requested{0};
  // Posted receives: the owner produces at recv_tail; the peer (to deliver) and the owner
  // (to flush) consume at recv_head by compare-and-swap, after reading the slot.
  std::atomic<uint64_t> recv_head{0};
  std::atomic<uint64_t> recv_tail{0};
  RecvSlot recvs[kRecvRing];
  // Target-side completions: the peer produces, the owner drains into its queue.
  std::atomic<uint64_t> done_head{0};
  std::atomic<uint64_t> done_tail{0};
  Completion done[kDoneRing];
};

struct SegmentHeader {
  uint32_t magic = 0;
  uint32_t version = 0;
  int32_t pid = 0;
  uint32_t key_salt = 0;
  // A word of the owner's memory and its address there: a peer reads it at connect() to
  // learn, before any operation, whether it may access the owner's memory at all.
  uint64_t probe = 0;
  uint64_t probe_addr = 0;
};

struct Segment {
  SegmentHeader header;
  RegionEntry regions[kMaxRegions];
  EndpointSlot endpoints[kMaxEndpoints];
};

// Keys: salt (8 bits, differs between providers) | slot + 1 (16 bits) | generation (8
// bits), so a key of another provider or of a deregistered region does not match.
inline uint32_t make_key(uint32_t salt, uint32_t slot, uint32_t generation) {
  return (salt << 24) | ((slot + 1) << 8) | (generation & 0xff);
}
// The slot a key names, or kMaxRegions for none.
inline uint32_t key_slot(uint32_t key) {
  const uint32_t slot = ((key >> 8) & 0xffff) - 1;
  return slot < kMaxRegions ? slot : kMaxRegions;
}

}  // namespace ferry::ipc
