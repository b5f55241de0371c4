// ferry bench FILE: replays a scenario repeatedly for statistics (not available yet).
#include "tools/ferry/command.h"
#include "tools/ferry/not_available.h"
#include "tools/ferry/shared_options.h"

namespace ferry::cli {
namespace {

int run_bench(const ParsedArguments&) {
  return not_available_yet("bench",
                           "it repeats 'ferry replay', which is not available yet. Meanwhile the "
                           "component benchmarks run with 'bazel run --config=opt //emu:emu_bench' and "
                           "'//transport:engine_bench'.");
}

}  // namespace

Command bench_command() {
  CommandSpec spec;
  spec.name = "bench";
  spec.operands = "FILE";
  spec.min_operands = 1;
  spec.max_operands = 1;
  spec.summary = "replay a scenario repeatedly and report statistics";
  spec.description =
      "Replays the scenario FILE several times, after warm-up runs that are not counted, and prints per "
      "workload the median and spread of its time, throughput and latency percentiles.";
  spec.options = {
      provider_option(),
      scale_option(),
      {"--repeat", "N", "measured runs (default 5)"},
      {"--warmup", "N", "runs before the measured ones, not counted (default 1)"},
      {"--report", "FILE", "also write the statistics to FILE as JSON"},
  };
  spec.exit_ok = "every run completed and every check passed";
  spec.exit_failed = "the scenario is invalid, or a run failed";
  spec.available = false;
  return Command{spec, run_bench};
}

}  // namespace ferry::cli
