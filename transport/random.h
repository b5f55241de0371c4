// The one deterministic random source: xoshiro256** seeded through splitmix64, and
// splitmix64 itself as a mixer. Written out here rather than taken from <random> so
// that a seed gives the same numbers with every compiler and standard library:
// replays, traces and deterministic fabrics promise bit-identical runs.
#pragma once

#include <cstdint>

namespace ferry {

// splitmix64's first draw from state `x`: a fast, well-spread 64-bit hash.
constexpr uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The splitmix64 sequence: the next draw from `state`, which it advances.
constexpr uint64_t splitmix64_next(uint64_t& state) {
  const uint64_t value = splitmix64(state);
  state += 0x9e3779b97f4a7c15ull;
  return value;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& word : state_) word = splitmix64_next(seed);
  }

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound); 0 when bound is 0.
  uint64_t below(uint64_t bound) {
    if (bound == 0) return 0;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }

  // Uniform in [0, 1).
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  bool chance(double probability) { return probability > 0 && unit() < probability; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t state_[4];
};

}  // namespace ferry
