// ferry replay FILE: runs a scenario's workloads on its fabric (emu, sim, verbs or tcp).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "scenarios/scenario_parser.h"
#include "tools/ferry/command.h"
#include "tools/ferry/exit_codes.h"
#include "tools/ferry/help.h"
#include "tools/ferry/replay/replay.h"
#include "tools/ferry/replay/trace_json.h"
#include "tools/ferry/report/html_report.h"
#include "tools/ferry/shared_options.h"

namespace ferry::cli {
namespace {

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

int run_replay(const ParsedArguments& arguments) {
  scenarios::ParseOptions options;
  if (const std::string* scale = arguments.value("--scale")) {
    const Result<double> value = parse_scale(*scale);
    if (!value.ok()) return usage_error("replay", value.error().message);
    options.scale = *value;
  }
  replay::ReplayOptions replay_options;
  if (const std::string* seed = arguments.value("--seed")) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(seed->c_str(), &end, 10);
    if (seed->empty() || *end != '\0' || (*seed)[0] == '-') {
      return usage_error("replay", "--seed: '" + *seed + "' is not a non-negative integer");
    }
    replay_options.seed = value;
  }
  if (const std::string* max_ops = arguments.value("--max-ops")) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(max_ops->c_str(), &end, 10);
    if (max_ops->empty() || *end != '\0' || (*max_ops)[0] == '-' || value == 0) {
      return usage_error("replay", "--max-ops: '" + *max_ops + "' is not a positive integer");
    }
    replay_options.max_operations = value;
  }
  std::optional<scenarios::ProviderKind> provider;
  if (const std::string* name = arguments.value("--provider")) {
    for (const auto& known : scenarios::kProviderNames) {
      if (known.name == *name) provider = known.value;
    }
    if (!provider) return usage_error("replay", "--provider: unknown provider '" + *name + "' (emu, sim, verbs or tcp)");
  }
  const std::string out_dir = arguments.value("--out") ? *arguments.value("--out") : "ferry-out";
  const bool quiet = arguments.has("--quiet");
  const std::string& path = arguments.operands.at(0);

  const scenarios::ScenarioParse parsed = scenarios::load_scenario(path, options);
  if (!parsed.ok()) {
    for (const scenarios::Diagnostic& error : parsed.errors) std::fprintf(stderr, "%s\n", error.to_string().c_str());
    std::fprintf(stderr, "%s: invalid (%zu error%s)\n", path.c_str(), parsed.errors.size(),
                 parsed.errors.size() == 1 ? "" : "s");
    return kExitFailed;
  }
  const scenarios::Scenario& scenario = *parsed.scenario;
  // Another provider than the scenario's runs with that provider's defaults.
  const scenarios::ProviderKind kind = provider.value_or(scenario.fabric.provider());
  replay_options.progress = quiet                   ? replay::ProgressStyle::kNone
                            : isatty(STDERR_FILENO) ? replay::ProgressStyle::kBar
                                                    : replay::ProgressStyle::kLines;

  const replay::ReplayReport report = replay::replay(scenario, kind, replay_options);
  const std::string json = replay::to_json(report);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  const std::filesystem::path dir(out_dir);
  const std::string report_path = (dir / "report.json").string();
  bool written = !ec;
  for (const auto& [name, text] : {std::pair<const char*, std::string>{"report.json", json},
                                   {"trace.json", replay::to_trace_json(report)},
                                   {"report.html", report::to_html(report)}}) {
    const std::string file = (dir / name).string();
    if (ec || !write_file(file, text)) {
      std::fprintf(stderr, "ferry replay: cannot write %s\n", file.c_str());
      written = false;
    }
  }
  if (const std::string* extra = arguments.value("--report")) {
    if (!write_file(*extra, json)) {
      std::fprintf(stderr, "ferry replay: cannot write %s\n", extra->c_str());
      written = false;
    }
  }
  if (!quiet && !report.workloads.empty()) {
    std::printf("%s on %s (%s, seed %llu, %u ranks)\n", report.scenario.c_str(), report.provider.c_str(),
                report.mode.c_str(), static_cast<unsigned long long>(report.seed), report.ranks);
    std::fputs(replay::format_table(report).c_str(), stdout);
    for (const std::string& note : report.notes) std::printf("note: %s\n", note.c_str());
  }
  for (const std::string& e : report.errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  for (const replay::WorkloadReport& w : report.workloads) {
    for (const std::string& e : w.errors) std::fprintf(stderr, "%s: %s\n", w.name.c_str(), e.c_str());
  }
  std::printf("%s: %s on %s, %zu workload%s, %.3f ms %s, %.2f s wall; report in %s\n", path.c_str(),
              report.ok() ? "ok" : "FAILED", report.provider.c_str(), report.workloads.size(),
              report.workloads.size() == 1 ? "" : "s", report.simulated_ns / 1e6,
              report.virtual_time ? "simulated" : "wall-clock", report.wall_s, report_path.c_str());
  std::fflush(stdout);
  return report.ok() && written ? kExitOk : kExitFailed;
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
      "Validates the scenario FILE as 'ferry validate' does, then builds its cluster on the fabric it names (or "
      "--provider's), runs its workloads one after another, injects its faults at their times, checks every byte "
      "that moved, and prints one line per workload: time, bytes moved, throughput and latency percentiles. "
      "Writes report.json, trace.json and report.html. On a terminal a progress bar runs on standard error.";
  spec.options = {
      provider_option(),
      scale_option(),
      {"--out", "DIR",
       "write report.json, trace.json (Chrome trace events) and report.html into DIR (created if needed; "
       "default ./ferry-out)"},
      {"--seed", "N", "use seed N instead of the fabric's seed (emu, sim); the same seed replays the same run"},
      {"--report", "FILE",
       "also write the results to FILE as JSON (per workload: time, bytes, throughput, latency percentiles); "
       "'ferry diff' compares two such reports"},
      {"--max-ops", "N",
       "replay at most N operations of each workload (requests, micro-batches, all-reduces, MoE dispatches and "
       "combines); the table notes the cap"},
      {"--quiet", "", "print only the final line (no table, no progress on stderr)"},
  };
  spec.exit_ok = "the run completed and every check passed";
  spec.exit_failed =
      "the scenario is invalid, the fabric cannot be built (verbs: no RDMA device), or the run failed (a transfer "
      "failed, data did not verify)";
  return Command{spec, run_replay};
}

}  // namespace ferry::cli
