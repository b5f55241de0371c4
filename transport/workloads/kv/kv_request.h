// KvRequest: one request's KV cache to migrate, as both sides name it. Its notification
// tags follow from its id (kv_request_tags.h).
#pragma once

#include <cstdint>

#include "transport/result.h"
#include "transport/workloads/kv/kv_request_tags.h"
#include "transport/workloads/kv/paged_kv_layout.h"

namespace ferry {

struct KvRequest {
  uint64_t id = 0;
  KvBlockTable prefill_blocks;  // in every prefill rank's pool
  KvBlockTable decode_blocks;   // in every decode rank's pool; same length
};

// Both tables valid for their layouts and of one length; the model small enough for a
// tag slot.
VoidResult validate_request(const KvRequest& request, const PagedKvLayout& prefill,
                            const PagedKvLayout& decode);

}  // namespace ferry
