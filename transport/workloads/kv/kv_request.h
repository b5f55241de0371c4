// KvRequest: one request's KV cache to migrate, as both sides name it. Its notification
// tags follow from its id (kv_request_tags.h).
#pragma once

#include <cstdint>
#include <optional>

#include "transport/result.h"
#include "transport/workloads/kv/kv_request_tags.h"
#include "transport/workloads/kv/paged_kv_layout.h"

namespace ferry {

struct KvRequest {
  uint64_t id = 0;
  KvBlockTable prefill_blocks;  // in every prefill rank's pool
  KvBlockTable decode_blocks;   // in every decode rank's pool; same length
};

// A request's tag slot: from KvTagSlots, the same on both sides; unset, id % slots.
using KvTagSlot = std::optional<uint32_t>;

// The request's notification tags.
inline KvRequestTags request_tags(const KvRequest& request, KvTagSlot slot, uint32_t layers) {
  return slot ? KvRequestTags::for_slot(*slot, layers) : KvRequestTags::for_request(request.id, layers);
}

// Both tables valid for their layouts and of one length; the model small enough for a
// tag slot.
VoidResult validate_request(const KvRequest& request, const PagedKvLayout& prefill,
                            const PagedKvLayout& decode, KvTagSlot slot = std::nullopt);

}  // namespace ferry
