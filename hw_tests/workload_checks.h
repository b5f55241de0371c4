// Workloads between two processes: one KV-cache migration (rank 0 prefill, rank 1
// decode), two all-reduces and one MoE dispatch + combine, each rank in its own
// process with its own engine, the engines meeting through a TcpExchange whose ports
// travel over a PeerLink (so do the region descriptors and the verdicts). Every byte
// that lands is verified against what the other rank must have sent, which each rank
// computes from the same seeds. //hw_tests:workload_peer runs it; the test runs both
// ranks on threads over emu.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw_tests/peer_link.h"
#include "transport/provider.h"

namespace ferry::qualify {

struct WorkloadOptions {
  uint64_t timeout_ns = 30'000'000'000ull;  // the engine's transfer timeout, and each wait's
};

struct WorkloadResult {
  std::string name;     // "kv-migration", "all-reduce/float32", "moe-dispatch-combine"
  std::string failure;  // empty: passed on both ranks
  std::string detail;   // what moved
};

// Runs every workload as rank `rank` (0 or 1); the peer process is the other rank.
// Both ranks return the same outcomes.
std::vector<WorkloadResult> run_workloads(Provider& provider, PeerLink& link, uint32_t rank,
                                          const WorkloadOptions& options);

}  // namespace ferry::qualify
