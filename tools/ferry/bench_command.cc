// ferry bench [collectives|transfer]: the nccl-tests-style sweeps on emu or sim
// (benchmarks/coll_sweep.h).
#include <string>

#include "tools/ferry/command.h"
#include "tools/ferry/exit_codes.h"
#include "tools/ferry/help.h"
#include "benchmarks/coll_sweep.h"

namespace ferry::cli {
namespace {

int run_bench(const ParsedArguments& arguments) {
  coll::SweepOptions options;
  const std::string what = arguments.operands.empty() ? "collectives" : arguments.operands[0];
  if (what == "transfer") {
    options.kinds = {coll::SweepKind::kSendRecv};
    options.ranks = 2;
  } else if (what != "collectives") {
    return usage_error("bench", "unknown sweep '" + what + "' (collectives or transfer)");
  }
  for (const coll::SweepFlag& flag : coll::kSweepFlags) {
    const std::string* value = arguments.value(flag.name);
    if (value == nullptr) continue;
    if (VoidResult set = coll::set_sweep_option(flag.name, *value, options); !set.ok()) {
      return usage_error("bench", set.error().message);
    }
  }
  if (what == "transfer" && options.ranks < 2) return usage_error("bench", "the transfer sweep needs --ranks 2 or more");
  if (VoidResult finished = coll::finish_sweep_options(options); !finished.ok()) {
    return usage_error("bench", finished.error().message);
  }
  return coll::run_sweep(options) == 0 ? kExitOk : kExitFailed;
}

}  // namespace

Command bench_command() {
  CommandSpec spec;
  spec.name = "bench";
  spec.operands = "[collectives|transfer]";
  spec.min_operands = 0;
  spec.max_operands = 1;
  spec.summary = "sweep message sizes and print nccl-tests-style tables";
  spec.description =
      "Runs the collectives (all_reduce, all_gather, reduce_scatter, all_to_all, send_recv and broadcast; "
      "'collectives', the default) or the point-to-point transfer sweep ('transfer': send_recv, a write with "
      "a notification from rank 0 to rank 1) over ranks on emu or, with --provider sim, on the ns-3 simulation "
      "(one switch or a leaf-spine, where receivers congest as on real fabrics), for every size from --min-bytes "
      "to --max-bytes doubling, and prints one nccl-tests-style table per collective: size, count, type, redop, "
      "root, time(us), algbw(GB/s), busbw(GB/s) and #wrong. Every output element is checked against an exact "
      "reference. emu's deterministic mode and sim report virtual time (a seed reproduces it bit for bit); emu's "
      "fast mode reports the wall time of one thread driving every rank. Bus bandwidth is computed as nccl-tests "
      "does. sim simulates every packet: keep --max-bytes to a few MiB for a quick run.";
  for (const coll::SweepFlag& flag : coll::kSweepFlags) spec.options.push_back({flag.name, flag.value_name, flag.help});
  spec.exit_ok = "every call succeeded and every element was right";
  spec.exit_failed = "a call failed or an element was wrong";
  return Command{spec, run_bench};
}

}  // namespace ferry::cli
