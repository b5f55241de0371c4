// KvRoute: which prefill rank sends which KV heads to which decode rank.
//
// Prefill and decode may run different tensor-parallel degrees. Each decode rank needs
// the heads it holds; each of those heads is taken from one prefill rank that holds it,
// and consecutive heads from the same prefill rank form one route. Because both sides
// hold contiguous head ranges, a (prefill rank, decode rank) pair shares at most one
// route:
//
//   prefill TP 4 -> decode TP 8 (8 heads): prefill rank p holds heads 2p, 2p+1; decode
//     rank d gets head d from prefill rank d / 2, the (d % 2)-th head of its rows.
//   prefill TP 8 -> decode TP 2 (8 heads): decode rank d gets heads 4d..4d+3, one from
//     each of prefill ranks 4d..4d+3, into local heads 0..3 of its rows.
//
// When a head sits on several prefill ranks (more prefill ranks than KV heads), decode
// rank d takes it from replica d % replicas, which spreads the sending over the replicas.
#pragma once

#include <cstdint>
#include <vector>

#include "transport/result.h"
#include "transport/workloads/kv/paged_kv_layout.h"

namespace ferry {

struct KvRoute {
  uint32_t prefill_rank = 0;
  uint32_t decode_rank = 0;
  HeadRange heads;            // model heads it carries
  uint32_t prefill_head = 0;  // the first of them among the prefill rank's local heads
  uint32_t decode_head = 0;   // ... and among the decode rank's
};

// Every route between the two sides, ordered by decode rank then head. Fails when the
// layouts are invalid or describe different models.
Result<std::vector<KvRoute>> plan_kv_routes(const PagedKvLayout& prefill, const PagedKvLayout& decode);

}  // namespace ferry
