#include "transport/provider_support/memory_registration.h"

#include <string>

#include "transport/gpu/runtime.h"

namespace ferry {

VoidResult check_registration(const void* addr, size_t length, uint32_t access, MemoryKind kind,
                              std::string_view provider) {
  if (addr == nullptr || length == 0) {
    return make_error(ErrorCode::kInvalidArgument, "register_memory needs a non-null, non-empty range");
  }
  // GPU memory moves with the CUDA copy engines; the kind must be what the memory is.
  if (auto kind_ok = gpu::check_memory_kind(addr, length, kind); !kind_ok.ok()) {
    return make_error(kind_ok.error().code, std::string(provider) + ": " + kind_ok.error().message);
  }
  if (access & ~(kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead)) {
    return make_error(ErrorCode::kInvalidArgument, "unknown access flags");
  }
  // As in verbs, remote write needs local write.
  if ((access & kAccessRemoteWrite) && !(access & kAccessLocalWrite)) {
    return make_error(ErrorCode::kInvalidArgument, "remote write access requires local write access");
  }
  return {};
}

uint32_t KeyTable::add(uint64_t addr, uint64_t length, uint32_t access, uint32_t pd_id, MemoryKind kind) {
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Entry& entry = slots_[slot];
  const uint32_t generation_mask = (1u << generation_bits_) - 1;
  const uint32_t generation = (entry.key + 1) & generation_mask;
  entry = Entry{addr, length, access, pd_id, ((slot + 1) << generation_bits_) | generation,
                       true, kind};
  if (kind == MemoryKind::kDevice) ++gpu_regions_;
  return entry.key;
}

void KeyTable::remove(uint32_t key) {
  const uint32_t slot = slot_of(key);
  if (slot >= slots_.size() || slots_[slot].key != key || !slots_[slot].live) return;
  slots_[slot].live = false;
  if (slots_[slot].kind == MemoryKind::kDevice) --gpu_regions_;
  free_slots_.push_back(slot);
}

const KeyTable::Entry* KeyTable::lookup(uint32_t key) const {
  const uint32_t slot = slot_of(key);
  if (slot >= slots_.size()) return nullptr;
  const Entry& entry = slots_[slot];
  return entry.live && entry.key == key ? &entry : nullptr;
}

bool KeyTable::allows(uint32_t pd_id, uint32_t key, uint64_t addr, uint64_t length,
                      uint32_t needed) const {
  const Entry* r = lookup(key);
  return r != nullptr && r->pd_id == pd_id && (r->access & needed) == needed &&
         addr >= r->addr && length <= r->length && addr - r->addr <= r->length - length;
}

}  // namespace ferry
