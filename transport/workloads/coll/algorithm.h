// The collectives, their algorithms, and which algorithm kAuto picks.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ferry::coll {

enum class Collective : uint8_t { kAllReduce, kAllGather, kReduceScatter, kBroadcast, kAllToAll };

// kOneShot: every rank writes straight into every peer's scratch, in one phase (for
// all-gather, reduce-scatter and broadcast: the direct algorithm). kTwoShot: two phases
// of direct writes (all-reduce: reduce-scatter then all-gather; broadcast: scatter then
// all-gather). kRing: neighbour to neighbour around the ring. docs/collectives.md.
enum class Algorithm : uint8_t { kAuto, kRing, kOneShot, kTwoShot };

const char* to_string(Collective collective);
const char* to_string(Algorithm algorithm);  // "auto", "ring", "one_shot", "two_shot"
std::optional<Algorithm> algorithm_from_string(std::string_view name);

// Whether `collective` implements `algorithm` (kAuto: always).
bool supports(Collective collective, Algorithm algorithm);

// The algorithm measured fastest on sim (a switched fabric, virtual time) for a
// message of `bytes` on `ranks` ranks; the table and how it was measured are in
// docs/collectives.md. Never returns kAuto.
Algorithm measured_fastest(Collective collective, uint64_t bytes, uint32_t ranks);

}  // namespace ferry::coll
