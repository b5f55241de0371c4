// ferry diff BASELINE REPORT: compares two replay reports (not available yet).
#include "tools/ferry/command.h"
#include "tools/ferry/not_available.h"

namespace ferry::cli {
namespace {

int run_diff(const ParsedArguments&) {
  return not_available_yet("diff",
                           "it compares the reports of 'ferry replay --report', which is not available "
                           "yet either.");
}

}  // namespace

Command diff_command() {
  CommandSpec spec;
  spec.name = "diff";
  spec.operands = "BASELINE REPORT";
  spec.min_operands = 2;
  spec.max_operands = 2;
  spec.summary = "compare two replay reports";
  spec.description =
      "Compares two reports written by 'ferry replay --report' (for instance the same scenario on emu and on "
      "sim, or before and after a change), workload by workload, and prints each figure that differs with both "
      "values and the relative change.";
  spec.options = {
      {"--tolerance", "PERCENT", "a figure differing by more than PERCENT percent counts as a difference (default 5)"},
  };
  spec.exit_ok = "every figure is within the tolerance";
  spec.exit_failed = "a figure differs by more than the tolerance, or a report cannot be read";
  spec.available = false;
  return Command{spec, run_diff};
}

}  // namespace ferry::cli
