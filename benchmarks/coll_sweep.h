// The nccl-tests-style sweep of the collectives on emu (through fabrics/): for every size from min to max
// (doubling), the time of one call on every rank together, its algorithm and bus
// bandwidth, and the number of wrong elements after every output was checked against
// an exact reference. send_recv, a write with notification from rank 0 to rank 1, is the
// point-to-point transfer sweep. Printed by coll_bench and `ferry bench`.
//
// Deterministic mode (the default) reports virtual time, which a seed reproduces; fast
// mode reports the wall time of one thread driving every rank (copies, reductions and
// all). Bus bandwidth is nccl-tests': all-reduce algbw * 2(n-1)/n; all-gather,
// reduce-scatter and all-to-all algbw * (n-1)/n; send/recv and broadcast algbw * 1.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fabrics/cluster_factory.h"
#include "transport/result.h"
#include "transport/workloads/coll/algorithm.h"
#include "transport/workloads/coll/dtype.h"
#include "transport/workloads/coll/reduction.h"

namespace ferry::coll {

enum class SweepKind { kAllReduce, kAllGather, kReduceScatter, kAllToAll, kSendRecv, kBroadcast };

struct SweepOptions {
  uint32_t ranks = 8;
  uint64_t min_bytes = 8;
  uint64_t max_bytes = 256ull << 20;  // the nccl-tests range: 8 B to 256 MiB
  std::string provider = fabrics::kEmu;
  std::vector<SweepKind> kinds = {SweepKind::kAllReduce, SweepKind::kAllGather, SweepKind::kReduceScatter,
                                  SweepKind::kAllToAll, SweepKind::kSendRecv};
  Algorithm algorithm = Algorithm::kAuto;
  DType dtype = DType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  uint32_t iters = 0;  // 0: 1 in deterministic mode (time is exact), 5 in fast mode
  uint64_t seed = 1;
  uint64_t scratch_bytes = 64ull << 20;
  double rail_gbps = 100;
};

// One option of the sweep, as both command lines declare it.
struct SweepFlag {
  const char* name;        // "--ranks"
  const char* value_name;  // "N"
  const char* help;        // what it sets, and its default
};
extern const std::vector<SweepFlag> kSweepFlags;

// Sets the option `flag` (one of kSweepFlags) from `value`; an error naming the flag and
// the value when the value is not one it takes.
VoidResult set_sweep_option(std::string_view flag, std::string_view value, SweepOptions& options);
// Checks what single options cannot (min <= max) and fills defaults that depend on others.
VoidResult finish_sweep_options(SweepOptions& options);

// Runs the sweep, printing the header and one table per collective to stdout and failures
// to stderr. Returns 0 when every call succeeded and every element was right, else 1.
int run_sweep(const SweepOptions& options);

}  // namespace ferry::coll
