// The nccl-tests-style sweep of the collectives on emu or sim (through fabrics/): for every size from min to max
// (doubling), the time of one call on every rank together, its algorithm and bus
// bandwidth, and the number of wrong elements after every output was checked against
// an exact reference. send_recv, a write with notification from rank 0 to rank 1, is the
// point-to-point transfer sweep. Printed by coll_bench and `ferry bench`.
//
// emu's deterministic mode (the default) and sim report virtual time, which a seed
// reproduces; emu's fast mode reports the wall time of one thread driving every rank
// (copies, reductions and all). sim models the switches (one, or a leaf-spine), so
// receivers that several ranks write to at once congest, as they do on real fabrics. Bus bandwidth is nccl-tests': all-reduce algbw * 2(n-1)/n; all-gather,
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
  std::string fabric = fabrics::kEmu;  // --provider: emu or sim
  bool fast = false;                   // --mode fast: emu's real-time mode
  bool leaf_spine = false;  // sim only; false: every NIC on one switch
  fabrics::LeafSpine leaf_spine_shape;
  // sim only: "pfc", "dcqcn", "pfc+dcqcn" or "none" (drop-tail switches, lossy RoCE);
  // empty: pfc on sim (lossless; DCQCN's paper defaults are for 40 Gb/s links, docs/cli.md).
  std::string flow_control;
  std::string leaf_spine_flag;  // the last leaf-spine knob given, named if there is no leaf-spine
  std::string provider;  // what runs: emu, emu-fast or sim (finish_sweep_options sets it)
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
