#include "transport/workloads/coll/algorithm.h"

#include <cstdlib>
#include <limits>

namespace ferry::coll {
namespace {

constexpr uint64_t kAlways = std::numeric_limits<uint64_t>::max();

// Up to `one_shot_max_bytes` one-shot wins; above it, up to `two_shot_max_bytes`,
// two-shot; above that, ring. Measured on sim, where several ranks writing to one
// receiver congest its port as on a real switched fabric (emu has no switch queue and
// favoured direct writes at every size): a leaf-spine of two ranks a leaf and two
// spines, one 400 Gb/s NIC per rank, PFC, 64 MiB of scratch, sizes 1 KiB to 64 MiB
// doubling (`python3 tools/measure_crossover.py`, docs/collectives.md "Choosing an
// algorithm"). A threshold is the last size at which the algorithm was fastest; sizes
// are the nccl-tests size column (all-gather's and reduce-scatter's rounded down to
// whole blocks); kAlways: still fastest at 64 MiB. crossover_test measures the
// switches of two rows again.
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
    {Collective::kAllReduce, 3, 256 * KiB, 16 * MiB},
    {Collective::kAllReduce, 4, 128 * KiB, 32 * MiB},
    {Collective::kAllReduce, 5, 64 * KiB, 2 * MiB},
    {Collective::kAllReduce, 6, 32 * KiB, 1 * MiB},
    {Collective::kAllReduce, 7, 32 * KiB, 2 * MiB},
    {Collective::kAllReduce, 8, 16 * KiB, 4 * MiB},
    // All-gather and reduce-scatter have no two-shot: above one-shot comes the ring.
    {Collective::kAllGather, 2, 32 * MiB, 0},
    {Collective::kAllGather, 3, 33554424, 0},
    {Collective::kAllGather, 4, kAlways, 0},
    {Collective::kAllGather, 5, 2097140, 0},
    {Collective::kAllGather, 6, 1048560, 0},
    {Collective::kAllGather, 7, 2097144, 0},
    {Collective::kAllGather, 8, 4 * MiB, 0},
    {Collective::kReduceScatter, 2, kAlways, 0},
    {Collective::kReduceScatter, 3, kAlways, 0},
    {Collective::kReduceScatter, 4, kAlways, 0},
    {Collective::kReduceScatter, 5, 2097140, 0},
    {Collective::kReduceScatter, 6, 1048560, 0},
    {Collective::kReduceScatter, 7, 2097144, 0},
    {Collective::kReduceScatter, 8, 4 * MiB, 0},
    // Broadcast has no ring.
    {Collective::kBroadcast, 2, kAlways, kAlways},
    {Collective::kBroadcast, 3, 64 * KiB, kAlways},
    {Collective::kBroadcast, 4, 32 * KiB, kAlways},
    {Collective::kBroadcast, 5, 32 * KiB, kAlways},
    {Collective::kBroadcast, 6, 32 * KiB, kAlways},
    {Collective::kBroadcast, 7, 16 * KiB, kAlways},
    {Collective::kBroadcast, 8, 16 * KiB, kAlways},
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
