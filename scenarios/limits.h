// The largest values the scenario format accepts. They are far beyond any real cluster
// or model, and small enough that every derived figure fits in 64 bits.
#pragma once

#include <cstdint>

namespace ferry::scenarios {

inline constexpr uint64_t kMaxNodes = 65'535;
inline constexpr uint64_t kMaxGpusPerNode = 64;
inline constexpr uint64_t kMaxNicsPerNode = 64;
inline constexpr double kMaxNicGbps = 100'000;  // 100 Tb/s
inline constexpr uint64_t kMaxTokens = uint64_t{1} << 32;
inline constexpr uint64_t kMaxBytes = uint64_t{1} << 50;                   // 1 PiB
inline constexpr uint64_t kMaxCount = uint64_t{1} << 24;                   // requests, micro-batches, rounds, batch
inline constexpr uint64_t kMaxDuration = uint64_t{3'600} * 1'000'000'000;  // one hour
inline constexpr double kMaxScale = 1e6;

}  // namespace ferry::scenarios
