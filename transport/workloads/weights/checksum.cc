#include "transport/workloads/weights/checksum.h"

#include <algorithm>
#include <cstring>

namespace ferry::weights {
namespace {

constexpr uint64_t kPrime1 = 11400714785074694791ull;
constexpr uint64_t kPrime2 = 14029467366897019727ull;
constexpr uint64_t kPrime3 = 1609587929392839161ull;
constexpr uint64_t kPrime4 = 9650029242287828579ull;
constexpr uint64_t kPrime5 = 2870177450012600261ull;

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
uint64_t read64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t read32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t round(uint64_t acc, uint64_t input) { return rotl(acc + input * kPrime2, 31) * kPrime1; }
uint64_t merge(uint64_t acc, uint64_t lane) { return (acc ^ round(0, lane)) * kPrime1 + kPrime4; }

}  // namespace

Checksum::Checksum() : lanes_{kPrime1 + kPrime2, kPrime2, 0, 0 - kPrime1}, pending_{} {}

void Checksum::consume_stripe(const uint8_t* stripe) {
  for (int lane = 0; lane < 4; ++lane) lanes_[lane] = round(lanes_[lane], read64(stripe + 8 * lane));
}

void Checksum::update(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;  // its data() may be null, which memcpy must not see
  const uint8_t* p = bytes.data();
  size_t n = bytes.size();
  total_bytes_ += n;
  if (pending_bytes_ > 0) {
    const size_t take = std::min(n, kStripe - pending_bytes_);
    std::memcpy(pending_ + pending_bytes_, p, take);
    pending_bytes_ += take;
    p += take;
    n -= take;
    if (pending_bytes_ < kStripe) return;
    consume_stripe(pending_);
    pending_bytes_ = 0;
  }
  for (; n >= kStripe; p += kStripe, n -= kStripe) consume_stripe(p);
  std::memcpy(pending_, p, n);
  pending_bytes_ = n;
}

uint64_t Checksum::value() const {
  uint64_t h;
  if (total_bytes_ >= kStripe) {
    h = rotl(lanes_[0], 1) + rotl(lanes_[1], 7) + rotl(lanes_[2], 12) + rotl(lanes_[3], 18);
    for (uint64_t lane : lanes_) h = merge(h, lane);
  } else {
    h = kPrime5;  // seed 0
  }
  h += total_bytes_;
  const uint8_t* p = pending_;
  size_t n = pending_bytes_;
  for (; n >= 8; p += 8, n -= 8) h = rotl(h ^ round(0, read64(p)), 27) * kPrime1 + kPrime4;
  if (n >= 4) {
    h = rotl(h ^ (read32(p) * kPrime1), 23) * kPrime2 + kPrime3;
    p += 4;
    n -= 4;
  }
  for (; n > 0; ++p, --n) h = rotl(h ^ (*p * kPrime5), 11) * kPrime1;
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime3;
  h ^= h >> 32;
  return h;
}

}  // namespace ferry::weights
