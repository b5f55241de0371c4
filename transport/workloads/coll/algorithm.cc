#include "transport/workloads/coll/algorithm.h"

#include <cstdlib>
#include <limits>

namespace ferry::coll {
namespace {

constexpr uint64_t kAlways = std::numeric_limits<uint64_t>::max();

// Up to `one_shot_max_bytes` one-shot wins; above it, up to `two_shot_max_bytes`,
// two-shot; above that, ring. Measured with coll_bench --mode deterministic on one
// 100 Gbit/s rail with the default scratch (docs/collectives.md, "Choosing an
// algorithm"): sizes double, so a threshold is the last size at which the algorithm
// was fastest. The ring's wins at the top come from two-shot and one-shot needing
// several rounds of the bounded scratch there.
struct Crossover {
  Collective collective;
  uint32_t ranks;
  uint64_t one_shot_max_bytes;
  uint64_t two_shot_max_bytes;
};

constexpr uint64_t KiB = 1 << 10;
constexpr uint64_t MiB = 1 << 20;

constexpr Crossover kMeasured[] = {
    {Collective::kAllReduce, 2, 32 * MiB, 0},
    {Collective::kAllReduce, 3, 16 * KiB, 16 * MiB},
    {Collective::kAllReduce, 4, 8 * KiB, 32 * MiB},
    {Collective::kAllReduce, 5, 8 * KiB, 64 * MiB},
    {Collective::kAllReduce, 6, 4 * KiB, 64 * MiB},
    {Collective::kAllReduce, 7, 4 * KiB, 64 * MiB},
    {Collective::kAllReduce, 8, 4 * KiB, 128 * MiB},
    // All-gather and reduce-scatter have no two-shot: above one-shot comes the ring. Rank
    // counts 2 to 8 were all measured; a row equal to its nearest neighbours is left out.
    {Collective::kAllGather, 2, 32 * MiB, 0},
    {Collective::kAllGather, 3, 32 * MiB, 0},
    {Collective::kAllGather, 4, kAlways, 0},
    {Collective::kAllGather, 8, kAlways, 0},
    {Collective::kReduceScatter, 2, kAlways, 0},
    {Collective::kReduceScatter, 8, kAlways, 0},
    // Broadcast has no ring.
    {Collective::kBroadcast, 2, kAlways, kAlways},
    {Collective::kBroadcast, 3, 16 * KiB, kAlways},
    {Collective::kBroadcast, 4, 8 * KiB, kAlways},
    {Collective::kBroadcast, 5, 4 * KiB, kAlways},
    {Collective::kBroadcast, 6, 4 * KiB, kAlways},
    {Collective::kBroadcast, 7, 2 * KiB, kAlways},
    {Collective::kBroadcast, 8, 2 * KiB, kAlways},
};

// The measured row for the rank count nearest to `ranks` (ties: the smaller); beyond 8
// ranks, the 8-rank row.
const Crossover* nearest(Collective collective, uint32_t ranks) {
  const Crossover* best = nullptr;
  for (const Crossover& c : kMeasured) {
    if (c.collective != collective) continue;
    const auto distance = [ranks](const Crossover* x) { return std::abs(int64_t{x->ranks} - ranks); };
    if (best == nullptr || distance(&c) < distance(best)) best = &c;
  }
  return best;
}

}  // namespace

const char* to_string(Collective collective) {
  switch (collective) {
    case Collective::kAllReduce: return "all_reduce";
    case Collective::kAllGather: return "all_gather";
    case Collective::kReduceScatter: return "reduce_scatter";
    case Collective::kBroadcast: return "broadcast";
    case Collective::kAllToAll: return "all_to_all";
  }
  return "?";
}

const char* to_string(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kAuto: return "auto";
    case Algorithm::kRing: return "ring";
    case Algorithm::kOneShot: return "one_shot";
    case Algorithm::kTwoShot: return "two_shot";
  }
  return "?";
}

std::optional<Algorithm> algorithm_from_string(std::string_view name) {
  for (Algorithm a : {Algorithm::kAuto, Algorithm::kRing, Algorithm::kOneShot, Algorithm::kTwoShot}) {
    if (name == to_string(a)) return a;
  }
  return std::nullopt;
}

bool supports(Collective collective, Algorithm algorithm) {
  if (algorithm == Algorithm::kAuto) return true;
  switch (collective) {
    case Collective::kAllReduce: return true;
    case Collective::kAllGather:
    case Collective::kReduceScatter: return algorithm != Algorithm::kTwoShot;
    case Collective::kBroadcast: return algorithm != Algorithm::kRing;
    case Collective::kAllToAll: return algorithm == Algorithm::kOneShot;
  }
  return false;
}

Algorithm measured_fastest(Collective collective, uint64_t bytes, uint32_t ranks) {
  const Crossover* c = nearest(collective, ranks);
  if (c == nullptr) return Algorithm::kOneShot;  // all-to-all: the only one
  if (bytes <= c->one_shot_max_bytes) return Algorithm::kOneShot;
  if (bytes <= c->two_shot_max_bytes) return Algorithm::kTwoShot;
  return Algorithm::kRing;
}

}  // namespace ferry::coll
