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
#include "tools/ferry/launch.h"
#include "tools/ferry/replay/replay.h"
#include "tools/ferry/replay/trace_json.h"
#include "tools/ferry/report/html_report.h"
#include "tools/ferry/shared_options.h"
#include "transport/provider_support/trace_hash.h"

namespace ferry::cli {
namespace {

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out.flush());
}

// An unsigned integer option's value up to `max`, or an error message naming the option.
std::optional<uint64_t> parse_unsigned(const ParsedArguments& arguments, const char* option, uint64_t max,
                                       std::string& error) {
  const std::string* text = arguments.value(option);
  if (text == nullptr) return std::nullopt;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text->c_str(), &end, 10);
  if (text->empty() || *end != '\0' || (*text)[0] == '-' || value > max) {
    error = std::string(option) + ": '" + *text + "' is not an integer in [0, " + std::to_string(max) + "]";
    return std::nullopt;
  }
  return value;
}

// Which node a launcher (mpirun, srun) started this process as, from its environment.
struct LauncherPlace {
  std::string launcher;
  uint64_t rank = 0;
  uint64_t size = 0;
};

std::optional<LauncherPlace> launcher_place() {
  const std::pair<const char*, std::pair<const char*, const char*>> known[] = {
      {"mpirun", {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}},
      {"srun", {"SLURM_PROCID", "SLURM_NTASKS"}},
  };
  for (const auto& [launcher, vars] : known) {
    const char* rank = std::getenv(vars.first);
    const char* size = std::getenv(vars.second);
    if (rank == nullptr || size == nullptr) continue;
    return LauncherPlace{launcher, std::strtoull(rank, nullptr, 10), std::strtoull(size, nullptr, 10)};
  }
  return std::nullopt;
}

// The file's text and everything on the command line that shapes the run: processes of
// one replay must agree on it.
uint64_t replay_fingerprint(const std::string& text, const ParsedArguments& arguments, const std::string& provider) {
  uint64_t hash = kTraceHashSeed;
  hash_bytes(hash, text.data(), text.size());
  for (const char* option : {"--scale", "--seed", "--max-ops"}) {
    const std::string* value = arguments.value(option);
    const std::string field = std::string(option) + "=" + (value ? *value : "");
    hash_bytes(hash, field.data(), field.size() + 1);
  }
  hash_bytes(hash, provider.data(), provider.size());
  return hash;
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
  std::string bad;
  const std::optional<uint64_t> node_option = parse_unsigned(arguments, "--node", UINT32_MAX, bad);
  const std::optional<uint64_t> launch = parse_unsigned(arguments, "--launch", 1024, bad);
  const std::optional<uint64_t> peer_timeout = parse_unsigned(arguments, "--peer-timeout", 86'400, bad);
  const std::optional<uint64_t> verbs_port = parse_unsigned(arguments, "--verbs-port", 255, bad);
  const std::optional<uint64_t> verbs_gid = parse_unsigned(arguments, "--verbs-gid-index", 255, bad);
  const std::optional<uint64_t> verbs_inline = parse_unsigned(arguments, "--verbs-inline", 4096, bad);
  if (!bad.empty()) return usage_error("replay", bad);
  if (launch && node_option) return usage_error("replay", "--launch starts every node's process itself: give --node or --launch, not both");
  if (launch && *launch == 0) return usage_error("replay", "--launch: needs at least one process");
  if (verbs_port) replay_options.fabric.verbs_port = static_cast<uint8_t>(*verbs_port);
  if (verbs_gid) replay_options.fabric.verbs_gid_index = static_cast<int>(*verbs_gid);
  if (verbs_inline) replay_options.fabric.verbs_max_inline = static_cast<uint32_t>(*verbs_inline);
  if (const std::string* device = arguments.value("--verbs-device")) replay_options.fabric.verbs_device = *device;
  if (const std::string* host = arguments.value("--host")) replay_options.fabric.host = *host;
  // The node this process runs: --node, or the launcher's rank when one started several.
  std::optional<uint64_t> node = node_option;
  std::string node_source = "--node " + (node ? std::to_string(*node) : std::string());
  const std::optional<LauncherPlace> place = launcher_place();
  if (!node && !launch && place && place->size > 1) {
    node = place->rank;
    node_source = place->launcher + " (process " + std::to_string(place->rank) + " of " + std::to_string(place->size) + ")";
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
  const std::string kind_name(scenarios::name_of(scenarios::kProviderNames, kind));
  // Spread over processes: one per cluster node, tcp or verbs only.
  const uint32_t nodes = scenario.cluster.nodes;
  if (node || launch) {
    const std::string how = launch ? "--launch" : node_source;
    if (kind != scenarios::ProviderKind::kTcp && kind != scenarios::ProviderKind::kVerbs) {
      return usage_error("replay", how + ": " + kind_name +
                                       " runs every rank in one process; one process per node needs --provider tcp or "
                                       "verbs");
    }
    if (launch && *launch != nodes) {
      return usage_error("replay", "--launch " + std::to_string(*launch) + ": the scenario's cluster has " +
                                       std::to_string(nodes) + " nodes; start one process per node");
    }
    if (!node_option && place && place->size > 1 && !launch && place->size != nodes) {
      return usage_error("replay", place->launcher + " started " + std::to_string(place->size) +
                                       " processes but the scenario's cluster has " + std::to_string(nodes) +
                                       " nodes: start one process per node");
    }
    if (node && *node >= nodes) {
      return usage_error("replay", how + ": the scenario's cluster has " + std::to_string(nodes) + " nodes (0 to " +
                                       std::to_string(nodes - 1) + ")");
    }
    if (node && !arguments.value("--directory")) {
      return usage_error("replay", how + ": the node processes meet in a directory: give --directory "
                                         "etcd://HOST:PORT or file:///PATH");
    }
  } else if (arguments.value("--directory")) {
    return usage_error("replay", "--directory: only with --node, --launch or a launcher's processes (mpirun, srun)");
  }
  if (launch) {
    LaunchPlan plan;
    plan.nodes = nodes;
    for (const auto& [name, value] : arguments.options) {
      if (name == "--launch" || name == "--directory") continue;
      plan.arguments.push_back(value.empty() && name == "--quiet" ? name : name + "=" + value);
    }
    plan.arguments.push_back("--");
    plan.arguments.push_back(path);
    if (const std::string* d = arguments.value("--directory")) plan.directory = *d;
    // Each process ends within its own bounds (the wall limit and the peer timeout).
    plan.timeout_s = replay_options.wall_limit_s + (peer_timeout ? *peer_timeout : 60) * 2 + 30;
    return launch_nodes(plan);
  }
  if (node) {
    std::ifstream in(path, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    replay::NodeProcess process;
    process.node = static_cast<uint32_t>(*node);
    process.directory = *arguments.value("--directory");
    if (const std::string* cluster = arguments.value("--cluster")) process.cluster = *cluster;
    if (peer_timeout) process.peer_timeout_ms = *peer_timeout * 1000;
    process.fingerprint = replay_fingerprint(text, arguments, kind_name);
    process.label = std::filesystem::path(path).filename().string() + " (scenario '" + scenario.name + "' on " +
                    kind_name;
    for (const char* option : {"--scale", "--seed", "--max-ops"}) {
      if (const std::string* value = arguments.value(option)) process.label += ", " + std::string(option) + " " + *value;
    }
    process.label += ")";
    replay_options.process = process;
  }
  replay_options.progress = quiet                   ? replay::ProgressStyle::kNone
                            : isatty(STDERR_FILENO) ? replay::ProgressStyle::kBar
                                                    : replay::ProgressStyle::kLines;

  const replay::ReplayReport report = replay::replay(scenario, kind, replay_options);
  const std::string json = replay::to_json(report);
  std::error_code ec;
  // Node processes of one host may share --out: each writes into its own folder.
  const std::filesystem::path dir =
      node ? std::filesystem::path(out_dir) / ("node" + std::to_string(*node)) : std::filesystem::path(out_dir);
  std::filesystem::create_directories(dir, ec);
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
  if (const std::string* given = arguments.value("--report")) {
    // Node processes of one host may share the name: each inserts its node (r.node1.json).
    std::filesystem::path extra(*given);
    if (node) extra.replace_filename(extra.stem().string() + ".node" + std::to_string(*node) + extra.extension().string());
    if (!write_file(extra.string(), json)) {
      std::fprintf(stderr, "ferry replay: cannot write %s\n", extra.c_str());
      written = false;
    }
  }
  if (!quiet && !report.workloads.empty()) {
    std::printf("%s on %s (%s, seed %llu, %u ranks", report.scenario.c_str(), report.provider.c_str(),
                report.mode.c_str(), static_cast<unsigned long long>(report.seed), report.ranks);
    if (report.spread) {
      std::printf("; node %u of %u: ranks %u to %u here", report.node, report.nodes, report.first_rank,
                  report.end_rank == 0 ? 0 : report.end_rank - 1);
    }
    std::printf(")\n");
    std::fputs(replay::format_table(report).c_str(), stdout);
    for (const std::string& note : report.notes) std::printf("note: %s\n", note.c_str());
  }
  for (const std::string& e : report.errors) std::fprintf(stderr, "error: %s\n", e.c_str());
  for (const replay::WorkloadReport& w : report.workloads) {
    for (const std::string& e : w.errors) std::fprintf(stderr, "%s: %s\n", w.name.c_str(), e.c_str());
  }
  if (!quiet) {
    for (const std::string& peer : report.peers) std::printf("%s\n", peer.c_str());
  }
  if (!quiet && report.spread && report.ok()) {
    std::printf("node %u: every byte its ranks received verified\n", report.node);
  }
  const std::string where = report.spread ? ", node " + std::to_string(report.node) : "";
  std::printf("%s: %s on %s%s, %zu workload%s, %.3f ms %s, %.2f s wall; report in %s\n", path.c_str(),
              report.ok() ? "ok" : "FAILED", report.provider.c_str(), where.c_str(), report.workloads.size(),
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
       "'ferry diff' compares two such reports; a node process writes FILE with its node before the extension "
       "(r.node1.json)"},
      {"--max-ops", "N",
       "replay at most N operations of each workload (requests, micro-batches, all-reduces, MoE dispatches and "
       "combines); the table notes the cap"},
      {"--quiet", "", "print only the final line (no table, no progress on stderr)"},
      {"--node", "N",
       "run only cluster node N's ranks (rank r lives on node r / gpus_per_node) and meet the other nodes' "
       "processes in --directory: one process per node, tcp or verbs only. Under mpirun (OMPI_COMM_WORLD_RANK) "
       "or srun (SLURM_PROCID) with more than one process it defaults to the launcher's rank, whose process count "
       "must equal the scenario's node count. Reports go to DIR/nodeN (docs/deployment.md)"},
      {"--directory", "URL",
       "where the node processes find each other: etcd://HOST:PORT[,HOST:PORT...] or file:///PATH (a folder every "
       "process can read: one host)"},
      {"--launch", "N",
       "start N processes of this command on this host, one per node (N = the scenario's node count), meeting in "
       "a temporary file:// directory (or --directory); forward their output prefixed with [node I]; exit 1 if any "
       "failed or they did not all end within the wall limit plus twice the peer timeout"},
      {"--host", "ADDR",
       "the IPv4 address this process's listeners (tcp provider, mailboxes) bind and publish: the address the other "
       "nodes reach it at (default 127.0.0.1)"},
      {"--cluster", "NAME", "the run's namespace in the directory, to share one directory between runs (default replay)"},
      {"--peer-timeout", "S",
       "how long a node process waits for a peer that has not appeared or does not answer (default 60 s); a peer "
       "whose process ended fails the run at once"},
      {"--verbs-device", "NAME", "verbs: open only RDMA devices whose name contains NAME (over the scenario's devices)"},
      {"--verbs-port", "N", "verbs: the device port (default 1)"},
      {"--verbs-gid-index", "N",
       "verbs: the GID index for RoCE (default: a RoCE v2 GID with an IPv4 address, else any RoCE v2 GID, else 0)"},
      {"--verbs-inline", "BYTES",
       "verbs: post payloads up to BYTES inline (default 64; an EFA device gets at most its own limit)"},
  };
  spec.exit_ok = "the run completed and every check passed";
  spec.exit_failed =
      "the scenario is invalid, the fabric cannot be built (verbs: no RDMA device), or the run failed (a transfer "
      "failed, data did not verify)";
  return Command{spec, run_replay};
}

}  // namespace ferry::cli
