// ferry validate FILE...: checks scenario files without running them.
#include <cstdio>

#include "scenarios/scenario_parser.h"
#include "tools/ferry/command.h"
#include "tools/ferry/exit_codes.h"
#include "tools/ferry/help.h"
#include "tools/ferry/scenario_summary.h"
#include "tools/ferry/shared_options.h"
#include "tools/ferry/text_wrap.h"

namespace ferry::cli {
namespace {

// Prints "FILE: ok" and the summary, or every error; true when the file is valid.
bool validate_file(const std::string& path, const scenarios::ParseOptions& options, bool quiet) {
  const scenarios::ScenarioParse parsed = scenarios::load_scenario(path, options);
  if (parsed.ok()) {
    std::printf("%s: ok\n", path.c_str());
    if (!quiet) std::fputs(wrap(summarize(*parsed.scenario), 2, 2).c_str(), stdout);
    return true;
  }
  for (const scenarios::Diagnostic& error : parsed.errors) std::fprintf(stderr, "%s\n", error.to_string().c_str());
  std::fprintf(stderr, "%s: invalid (%zu error%s)\n", path.c_str(), parsed.errors.size(),
               parsed.errors.size() == 1 ? "" : "s");
  return false;
}

int run_validate(const ParsedArguments& arguments) {
  scenarios::ParseOptions options;
  if (const std::string* scale = arguments.value("--scale")) {
    const Result<double> value = parse_scale(*scale);
    if (!value.ok()) return usage_error("validate", value.error().message);
    options.scale = *value;
  }
  const bool quiet = arguments.has("--quiet");
  bool all_valid = true;
  for (const std::string& path : arguments.operands) all_valid &= validate_file(path, options, quiet);
  std::fflush(stdout);
  return all_valid ? kExitOk : kExitFailed;
}

}  // namespace

Command validate_command() {
  CommandSpec spec;
  spec.name = "validate";
  spec.operands = "FILE...";
  spec.min_operands = 1;
  spec.max_operands = CommandSpec::kAnyNumber;
  spec.summary = "check scenario files without running them";
  spec.description =
      "Parses and checks each scenario FILE without running anything: the YAML itself, every key (unknown keys "
      "come with a suggestion), every value's type, unit and range, and whether the workloads fit the cluster and "
      "the model (ranks against GPUs, tensor parallelism against attention heads, expert parallelism against "
      "experts, pipeline stages against layers).\n\n"
      "A valid FILE prints \"FILE: ok\" and a paragraph on what it would run: the cluster and fabric, the model "
      "with its derived figures (KV cache per token, activations per token, expert and parameter bytes), each "
      "workload with what it moves, and the faults. An invalid FILE prints every error found, one per line, as "
      "FILE:LINE:COLUMN: message, on standard error. Every FILE is checked, whatever the earlier ones gave.";
  spec.options = {
      scale_option(),
      {"--quiet", "", "print only \"FILE: ok\" for a valid file, without the summary"},
  };
  spec.exit_ok = "every FILE is a valid scenario";
  spec.exit_failed = "a FILE is invalid or cannot be read";
  return Command{spec, run_validate};
}

}  // namespace ferry::cli
