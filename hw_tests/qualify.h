// The hardware qualification suite: runs against any provider (emu, sim, verbs).
//
// It takes the two sides of a link as two Providers — two nodes of emu or sim, or the
// same verbs host opened twice (loopback through the NIC) — and checks, rail by rail
// and endpoint kind by endpoint kind:
//   functional  the provider conformance suite (transport/conformance/checks.h: every
//               operation, every error status, ordering, queues, addresses), the
//               engine's ImmCounter under load, striping over every rail;
//   performance bandwidth of write, read and send from 4 KiB to 64 MiB against the
//               device's line rate, and 8-byte latency (completion queues polled, and
//               for writes also memory polled, as perftest's ib_write_lat);
//   robustness  an endpoint forced into error and a fresh one afterwards.
// Time is the providers' clock: virtual on emu's deterministic mode and sim, real on
// hardware. The same checks between two processes are peer_suite.h.
// docs/qualification.md explains every check.
#pragma once

#include <cstdint>
#include <functional>

#include "hw_tests/report.h"
#include "hw_tests/thresholds.h"
#include "transport/provider.h"

namespace ferry::qualify {

struct Options {
  bool functional = true;
  bool performance = true;
  bool robustness = true;
  Thresholds thresholds;
  uint64_t min_bytes = 4 << 10;
  uint64_t max_bytes = 64 << 20;
  // Bytes moved per bandwidth point (at least 32 messages), and which operations.
  uint64_t bw_total_bytes = 64 << 20;
  bool perf_write = true;
  bool perf_read = true;
  bool perf_send = true;
  // Gives up on a completion after this long on the providers' clock.
  uint64_t timeout_ns = 10'000'000'000;
  // Names each check on stderr as it starts: where a run died shows in its output.
  bool progress = false;
};

Report run(Provider& a, Provider& b, const Options& options);

}  // namespace ferry::qualify
