// ferry qualify: the hardware qualification suite (not available yet through ferry).
#include "tools/ferry/command.h"
#include "tools/ferry/not_available.h"

namespace ferry::cli {
namespace {

int run_qualify(const ParsedArguments&) {
  return not_available_yet("qualify",
                           "meanwhile the suite runs on its own: "
                           "'bazel run --config=opt //hw_tests:qualify -- --help' (docs/qualification.md).");
}

}  // namespace

Command qualify_command() {
  CommandSpec spec;
  spec.name = "qualify";
  spec.summary = "check that this host's RDMA devices do what ferry relies on, and how fast";
  spec.description =
      "Runs the qualification suite (docs/qualification.md) between two ends of a link: functional checks "
      "(every operation, ordering, limits), performance checks (bandwidth sweep, latency) against thresholds, "
      "and robustness checks (faults). On verbs both ends are this host, looped back through the NIC. Prints "
      "one row per check and a count.";
  spec.options = {
      {"--provider", "NAME", "emu (default: two emulated nodes) or verbs (this host's RDMA devices)"},
      {"--emu-mode", "MODE", "emu: deterministic (default: virtual time, seeded) or fast"},
      {"--device", "NAME", "verbs: only devices whose name contains NAME"},
      {"--only", "GROUP", "run one group: functional, performance or robustness (repeatable; default all)"},
      {"--thresholds", "FILE", "performance thresholds (default: the built-in ones, as hw_tests/thresholds.conf)"},
      {"--timeout-s", "N", "give up on a completion or transfer after N seconds (default 10)"},
      {"--json", "FILE", "also write the report as JSON to FILE"},
  };
  spec.exit_ok = "every check passed (a check that could not run says why and does not fail the run)";
  spec.exit_failed = "a check failed";
  spec.available = false;
  return Command{spec, run_qualify};
}

}  // namespace ferry::cli
