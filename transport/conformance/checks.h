// The provider conformance suite: the provider contract (transport/provider.h,
// docs/provider-guide.md) as named checks, written once and run against any fabric.
//
// A check runs between two nodes of a fabric: two Providers (the same one twice for a
// loopback through one NIC) on one rail, with one endpoint kind, and where the harness
// has it the Cluster they belong to (for faults and the clock). It returns a verdict
// with a detail: passed, failed (what differed), or skipped (why this fabric cannot run
// it: an RC-only guarantee on SRD, a fault on a fabric that cannot inject one). A skip
// is never a pass.
//
// Callers: transport/conformance/conformance_test.cc (gtest, every provider variant)
// and the functional group of hw_tests/qualify (any provider, real NICs included).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "transport/cluster.h"
#include "transport/provider.h"

namespace ferry::conformance {

struct Nodes {
  Provider* a = nullptr;  // the initiator's node
  Provider* b = nullptr;  // the target's node (may be `a`: loopback)
  // The fabric both belong to, for faults and the clock; null where the harness only
  // has providers (checks that need it are skipped, saying so).
  Cluster* cluster = nullptr;
  uint32_t node_a = 0;  // a's and b's node numbers in `cluster`
  uint32_t node_b = 1;
  size_t rail = 0;  // the device index on both
  EndpointKind kind = EndpointKind::kRc;
  // Where the checks' buffers live: host memory, or GPU memory (on a GPU machine).
  MemoryKind memory = MemoryKind::kHost;
  // A wait for a completion gives up after this long on the providers' clock.
  uint64_t timeout_ns = 10'000'000'000;
};

enum class Verdict { kPass, kFail, kSkip };

struct Outcome {
  Verdict verdict = Verdict::kPass;
  std::string detail;  // why it failed or was skipped; empty on a pass
};

struct Check {
  std::string name;     // "write-gather", "error/wrong-rkey", ...: stable, used in reports
  std::string summary;  // what passing means, in one sentence
  void (*body)(class Env& env);
};

// Every check, in a stable order.
const std::vector<Check>& all_checks();
// The check named `name`, or null.
const Check* find_check(const std::string& name);

// Runs one check on a fresh set of objects (domains, queues, buffers, endpoints), all
// destroyed before it returns. Never throws.
Outcome run(const Check& check, const Nodes& setup);

const char* to_string(Verdict verdict);

}  // namespace ferry::conformance
