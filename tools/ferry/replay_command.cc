// ferry replay FILE: runs a scenario's workloads on its fabric (not available yet).
#include "tools/ferry/command.h"
#include "tools/ferry/not_available.h"
#include "tools/ferry/shared_options.h"

namespace ferry::cli {
namespace {

int run_replay(const ParsedArguments&) {
  return not_available_yet("replay",
                           "the scenario replayer is being wired to the workloads. Meanwhile "
                           "'ferry validate FILE' checks the scenario and shows what it would run.");
}

}  // namespace

Command replay_command() {
  CommandSpec spec;
  spec.name = "replay";
  spec.operands = "FILE";
  spec.min_operands = 1;
  spec.max_operands = 1;
  spec.summary = "run a scenario's workloads on its fabric and report";
  spec.description =
      "Validates the scenario FILE as 'ferry validate' does, then builds its cluster on the fabric it names, "
      "runs its workloads one after another, injects its faults at their times, checks every byte that moved, "
      "and prints one line per workload: time, bytes moved, throughput and latency percentiles.";
  spec.options = {
      provider_option(),
      scale_option(),
      {"--seed", "N", "use seed N instead of the fabric's seed (emu, sim); the same seed replays the same run"},
      {"--report", "FILE",
       "also write the results to FILE as JSON (per workload: time, bytes, throughput, latency percentiles); "
       "'ferry diff' compares two such reports"},
      {"--quiet", "", "print only the final line"},
  };
  spec.exit_ok = "the run completed and every check passed";
  spec.exit_failed = "the scenario is invalid, or the run failed (a transfer failed, data did not verify)";
  spec.available = false;
  return Command{spec, run_replay};
}

}  // namespace ferry::cli
