// Memory registration in a software provider: the checks register_memory makes, the
// table of keys a NIC keeps, and the region handed back. emu and sim share them so that
// both refuse the same registrations with the same words and check keys the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "transport/provider.h"

namespace ferry {

// register_memory's arguments as verbs checks them: a non-empty range, memory of the
// kind claimed, known access flags, remote write only with local write. `provider`
// names the provider in the message about the memory's kind.
VoidResult check_registration(const void* addr, size_t length, uint32_t access, MemoryKind kind,
                              std::string_view provider);

// A NIC's registrations. Keys are (slot + 1) << generation_bits | generation: a
// deregistered region frees its slot at once, and its key matches nothing until the
// slot has been reused 2^generation_bits times. lkey == rkey.
class KeyTable {
 public:
  struct Entry {
    uint64_t addr = 0;
    uint64_t length = 0;
    uint32_t access = 0;
    uint32_t pd_id = 0;
    uint32_t key = 0;
    bool live = false;
    MemoryKind kind = MemoryKind::kHost;
  };

  explicit KeyTable(uint32_t generation_bits) : generation_bits_(generation_bits) {}

  uint32_t add(uint64_t addr, uint64_t length, uint32_t access, uint32_t pd_id,
               MemoryKind kind = MemoryKind::kHost);
  void remove(uint32_t key);
  const Entry* lookup(uint32_t key) const;

  // [addr, addr + length) lies in a live region of `pd_id`, named by `key`, that grants
  // every right in `needed`.
  bool allows(uint32_t pd_id, uint32_t key, uint64_t addr, uint64_t length,
              uint32_t needed) const;
  // Some live region is GPU memory: copies through this NIC use the CUDA copy engines.
  bool has_gpu_memory() const { return gpu_regions_ > 0; }

 private:
  uint32_t slot_of(uint32_t key) const { return (key >> generation_bits_) - 1; }  // key 0: no slot

  const uint32_t generation_bits_;
  std::vector<Entry> slots_;
  std::vector<uint32_t> free_slots_;
  uint32_t gpu_regions_ = 0;
};

// A region as register_memory hands it out: release(key) gives its key back to the
// provider when it is destroyed.
class KeyedMemoryRegion final : public MemoryRegion {
 public:
  KeyedMemoryRegion(void* addr, size_t length, uint32_t access, uint32_t key, MemoryKind kind,
                    std::function<void(uint32_t key)> release)
      : addr_(addr), length_(length), access_(access), key_(key), kind_(kind), release_(std::move(release)) {}
  ~KeyedMemoryRegion() override { release_(key_); }
  void* addr() const override { return addr_; }
  size_t length() const override { return length_; }
  uint32_t lkey() const override { return key_; }
  uint32_t rkey() const override { return key_; }
  uint32_t access() const override { return access_; }
  MemoryKind memory_kind() const override { return kind_; }

 private:
  void* addr_;
  size_t length_;
  uint32_t access_;
  uint32_t key_;
  MemoryKind kind_;
  std::function<void(uint32_t key)> release_;
};

}  // namespace ferry
