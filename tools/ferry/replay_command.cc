// ferry replay FILE: runs a scenario's workloads on its fabric (emu for now).
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "scenarios/scenario_parser.h"
#include "tools/ferry/command.h"
#include "tools/ferry/exit_codes.h"
#include "tools/ferry/help.h"
#include "tools/ferry/replay/replay.h"
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
    std::string error;
    const std::optional<double> value = parse_scale(*scale, error);
    if (!value) return usage_error("replay", error);
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
  std::optional<scenarios::ProviderKind> provider;
  if (const std::string* name = arguments.value("--provider")) {
    for (const auto& known : scenarios::kProviderNames) {
      if (known.name == *name) provider = known.value;
    }
    if (!provider) return usage_error("replay", "--provider: unknown provider '" + *name + "' (emu, sim or verbs)");
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
  scenarios::Scenario scenario = *parsed.scenario;
  const scenarios::ProviderKind kind = provider.value_or(scenario.fabric.provider());
  if (kind != scenarios::ProviderKind::kEmu) {
    const char* name = kind == scenarios::ProviderKind::kSim ? "sim" : "verbs";
    std::fprintf(stderr, "ferry replay: provider %s not available for replay yet (run with --provider emu)\n", name);
    return kExitUsage;
  }
  if (scenario.fabric.provider() != scenarios::ProviderKind::kEmu) scenario.fabric.params = scenarios::EmuFabric{};
  replay_options.progress = !quiet;

  const replay::ReplayReport report = replay::replay_on_emu(scenario, replay_options);
  const std::string json = replay::to_json(report);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  const std::string report_path = (std::filesystem::path(out_dir) / "report.json").string();
  bool written = !ec && write_file(report_path, json);
  if (!written) std::fprintf(stderr, "ferry replay: cannot write %s\n", report_path.c_str());
  if (const std::string* extra = arguments.value("--report")) {
    if (!write_file(*extra, json)) {
      std::fprintf(stderr, "ferry replay: cannot write %s\n", extra->c_str());
      written = false;
    }
  }
  if (!quiet) {
    std::printf("%s on emu (%s, seed %llu, %u ranks)\n", report.scenario.c_str(), report.mode.c_str(),
                static_cast<unsigned long long>(report.seed), report.ranks);
    std::fputs(replay::format_table(report).c_str(), stdout);
  }
  for (const std::string& e : report.errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  for (const replay::WorkloadReport& w : report.workloads) {
    for (const std::string& e : w.errors) std::fprintf(stderr, "%s: %s\n", w.name.c_str(), e.c_str());
  }
  std::printf("%s: %s, %zu workload%s, %.3f ms simulated, %.2f s wall; report in %s\n", path.c_str(),
              report.ok() ? "ok" : "FAILED", report.workloads.size(), report.workloads.size() == 1 ? "" : "s",
              report.simulated_ns / 1e6, report.wall_s, report_path.c_str());
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
      "Validates the scenario FILE as 'ferry validate' does, then builds its cluster on the fabric it names, "
      "runs its workloads one after another, injects its faults at their times, checks every byte that moved, "
      "and prints one line per workload: time, bytes moved, throughput and latency percentiles.";
  spec.options = {
      provider_option(),
      scale_option(),
      {"--out", "DIR", "write report.json into DIR (created if needed; default ./ferry-out)"},
      {"--seed", "N", "use seed N instead of the fabric's seed (emu, sim); the same seed replays the same run"},
      {"--report", "FILE",
       "also write the results to FILE as JSON (per workload: time, bytes, throughput, latency percentiles); "
       "'ferry diff' compares two such reports"},
      {"--quiet", "", "print only the final line"},
  };
  spec.exit_ok = "the run completed and every check passed";
  spec.exit_failed = "the scenario is invalid, or the run failed (a transfer failed, data did not verify)";
  return Command{spec, run_replay};
}

}  // namespace ferry::cli
