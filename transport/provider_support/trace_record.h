// One observable event of a deterministic run: a completion, where and when it was
// pushed. emu and sim fold each one into their trace hash the same way.
#pragma once

#include <cstdint>

#include "transport/provider.h"
#include "transport/provider_support/trace_hash.h"

namespace ferry {

struct TraceRecord {
  uint64_t time_ns = 0;
  uint32_t node = 0;
  uint32_t nic = 0;
  uint32_t endpoint_id = 0;
  uint64_t cookie = 0;
  CompletionKind kind = CompletionKind::kWrite;
  Status status = Status::kSuccess;
  uint32_t byte_len = 0;
  uint32_t imm = 0;
};

// Field by field, so that padding never reaches the hash.
inline void hash_record(uint64_t& hash, const TraceRecord& r) {
  hash_value(hash, r.time_ns);
  hash_value(hash, r.node);
  hash_value(hash, r.nic);
  hash_value(hash, r.endpoint_id);
  hash_value(hash, r.cookie);
  hash_value(hash, static_cast<uint8_t>(r.kind));
  hash_value(hash, static_cast<uint8_t>(r.status));
  hash_value(hash, r.byte_len);
  hash_value(hash, r.imm);
}

}  // namespace ferry
