#include "hw_tests/qualify_cli.h"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "fabrics/cluster_factory.h"
#include "hw_tests/peer_link.h"
#include "hw_tests/peer_suite.h"
#include "hw_tests/qualify.h"

namespace ferry::qualify {

const char* const kCliUsage = R"(usage: qualify [options]

Runs the qualification suite (functional, performance, robustness checks) between
two ends of a link and prints a table; exits 0 when every check passed.

  --provider P        emu (default), sim or verbs
  --emu-mode M        deterministic (default: virtual time, seeded) or fast
  --emu-nics N        NICs per emulated node, or per simulated host (default 2)
  --sim-transport T   sim: roce (default: RC, go-back-N) or srd (EFA-like)
  --device NAME       verbs: only devices whose name contains NAME
  --role R            verbs, two processes: server (the target of every check) or
                      client (posts the operations and prints the report); without
                      it both ends are this process, looped back through the NIC
  --listen HOST:PORT  server: where the client connects (port 0: any, printed)
  --connect HOST:PORT client: the server's address
  --only GROUPS       run only these groups: functional, performance, robustness,
                      comma-separated or repeated (default all)
  --progress          name each functional check on stderr as it starts
  --min-bytes N       smallest message of the bandwidth sweep (default 4096)
  --max-bytes N       largest message of the bandwidth sweep (default 67108864);
                      sizes grow by 4 from the smallest
  --bw-total-bytes N  bytes moved per bandwidth point (default 67108864)
  --perf-ops LIST     operations measured: any of write,read,send (default all)
  --thresholds FILE   thresholds file (default: built-in values, as in
                      hw_tests/thresholds.conf)
  --timeout-s N       give up on a completion or transfer after N seconds (default 10)
  --json FILE         also write the report as JSON to FILE
  --help              this text

Two processes: start `qualify --provider verbs --role server --listen HOST:PORT`,
then `qualify --provider verbs --role client --connect HOST:PORT` (another host, or
the same one). The server waits 120 s for the client. The last check,
robustness/peer-process-killed, ends the server with SIGKILL mid-transfer; the
client's report says whether it saw its transfers fail without hanging.

Exit status: 0 all checks passed (some may not have run, with the reason shown),
1 a check failed, 2 bad arguments or no device.
)";

namespace {

constexpr uint64_t kWaitForPeerNs = 120'000'000'000ull;

struct Cli {
  std::FILE* out;
  std::FILE* err;
  std::string program;

  int usage_error(const std::string& message) const {
    std::fprintf(err, "%s: %s (see --help)\n", program.c_str(), message.c_str());
    return 2;
  }
  int failure(const std::string& message) const {
    std::fprintf(err, "%s: %s\n", program.c_str(), message.c_str());
    return 2;
  }
};

bool parse_count(const std::string& text, uint64_t* out) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 19) return false;
  *out = std::strtoull(text.c_str(), nullptr, 10);
  return true;
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::FILE* out, std::FILE* err, const std::string& program) {
  const Cli cli{out, err, program};
  std::string provider = "emu", emu_mode = "deterministic", sim_transport = "roce", device, json, thresholds_file, role, listen, connect;
  uint64_t emu_nics = 2;
  Options options;
  bool only = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kCliUsage, out);
      return 0;
    }
    if (arg == "--progress") {
      options.progress = true;
      continue;
    }
    std::string v;
    if (const size_t eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      v = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < args.size()) {
      v = args[++i];
    } else {
      return cli.usage_error(arg + " needs a value");
    }
    uint64_t n = 0;
    auto count = [&](uint64_t* into) {
      if (!parse_count(v, &n)) return false;
      *into = n;
      return true;
    };
    if (arg == "--provider") {
      provider = v;
    } else if (arg == "--emu-mode") {
      emu_mode = v;
    } else if (arg == "--sim-transport") {
      sim_transport = v;
    } else if (arg == "--emu-nics") {
      if (!count(&emu_nics)) return cli.usage_error("--emu-nics takes a number");
    } else if (arg == "--device") {
      device = v;
    } else if (arg == "--role") {
      role = v;
    } else if (arg == "--listen") {
      listen = v;
    } else if (arg == "--connect") {
      connect = v;
    } else if (arg == "--json") {
      json = v;
    } else if (arg == "--thresholds") {
      thresholds_file = v;
    } else if (arg == "--max-bytes") {
      if (!count(&options.max_bytes)) return cli.usage_error("--max-bytes takes a number");
    } else if (arg == "--min-bytes") {
      if (!count(&options.min_bytes)) return cli.usage_error("--min-bytes takes a number");
    } else if (arg == "--bw-total-bytes") {
      if (!count(&options.bw_total_bytes)) return cli.usage_error("--bw-total-bytes takes a number");
    } else if (arg == "--timeout-s") {
      uint64_t s = 0;
      if (!count(&s) || s == 0 || s > 3600) return cli.usage_error("--timeout-s takes 1 to 3600");
      options.timeout_ns = s * 1'000'000'000ull;
    } else if (arg == "--perf-ops") {
      const std::string ops = "," + v + ",";
      options.perf_write = ops.find(",write,") != std::string::npos;
      options.perf_read = ops.find(",read,") != std::string::npos;
      options.perf_send = ops.find(",send,") != std::string::npos;
      if (!options.perf_write && !options.perf_read && !options.perf_send) {
        return cli.usage_error("--perf-ops takes a comma-separated list of write, read, send");
      }
    } else if (arg == "--only") {
      if (!only) options.functional = options.performance = options.robustness = false;
      only = true;
      std::stringstream groups(v);
      std::string g;
      while (std::getline(groups, g, ',')) {
        if (g == "functional") {
          options.functional = true;
        } else if (g == "performance") {
          options.performance = true;
        } else if (g == "robustness") {
          options.robustness = true;
        } else {
          return cli.usage_error("--only takes functional, performance or robustness, not '" + g + "'");
        }
      }
    } else {
      return cli.usage_error("unknown option '" + arg + "'");
    }
  }
  if (options.min_bytes < 8 || options.max_bytes < options.min_bytes || options.max_bytes > (1ull << 31)) {
    return cli.usage_error("--min-bytes/--max-bytes must satisfy 8 <= min <= max <= 2147483648");
  }
  if (!thresholds_file.empty()) {
    auto t = Thresholds::load(thresholds_file);
    if (!t.ok()) return cli.usage_error(t.error().message);
    options.thresholds = *t;
  }
  if (!role.empty() && role != "server" && role != "client") return cli.usage_error("--role takes server or client");
  if (!role.empty() && provider != "verbs") {
    return cli.usage_error("--role needs --provider verbs (emu's two ends live in one process)");
  }
  if (role == "server" && (listen.empty() || !connect.empty())) return cli.usage_error("--role server takes --listen HOST:PORT");
  if (role == "client" && (connect.empty() || !listen.empty())) return cli.usage_error("--role client takes --connect HOST:PORT");
  if (role.empty() && (!listen.empty() || !connect.empty())) return cli.usage_error("--listen and --connect need --role");

  fabrics::ClusterOptions co;
  if (provider == "emu") {
    if (emu_mode != "deterministic" && emu_mode != "fast") return cli.usage_error("--emu-mode takes deterministic or fast");
    co.provider = emu_mode == "fast" ? fabrics::kEmuFast : fabrics::kEmu;
  } else if (provider == "sim") {
    if (sim_transport != "roce" && sim_transport != "srd") return cli.usage_error("--sim-transport takes roce or srd");
    // Two hosts on one switch, driven by the suite's progress() calls in virtual time,
    // at sim's own defaults: 400 Gb/s NICs, ns-3 seed 1 and run 1 (what seed 0 maps to).
    co.provider = fabrics::kSim;
    co.kind = sim_transport == "srd" ? EndpointKind::kSrd : EndpointKind::kRc;
    co.seed = 0;
  } else if (provider == "verbs") {
    co.provider = fabrics::kVerbs;
    co.verbs_device = device;
  } else {
    return cli.usage_error("--provider takes emu, sim or verbs, not '" + provider + "'");
  }
  if (provider != "verbs" && (emu_nics < 1 || emu_nics > 8)) return cli.usage_error("--emu-nics takes 1 to 8");
  co.nic_gbps.assign(provider == "verbs" ? 1 : emu_nics, provider == "sim" ? 400 : 100);
  // Both ends in this process, or this process's end of two.
  co.nodes = role.empty() ? 2 : 1;
  auto fabric = fabrics::make_cluster(co);
  if (!fabric.ok()) return cli.failure(fabric.error().to_string());
  Provider* ends[2] = {&(*fabric)->node(0), role.empty() ? &(*fabric)->node(1) : nullptr};

  Report report;
  if (role.empty()) {
    report = run(*ends[0], *ends[1], options);
  } else {
    std::unique_ptr<PeerLink> link;
    if (role == "server") {
      auto listener = PeerListener::open(listen);
      if (!listener.ok()) return cli.failure(listener.error().to_string());
      std::fprintf(err, "%s: server listening on port %u; waiting up to %llu s for the client\n", program.c_str(),
                   (*listener)->port(), static_cast<unsigned long long>(kWaitForPeerNs / 1'000'000'000));
      std::fflush(err);
      auto accepted = (*listener)->accept(kWaitForPeerNs);
      if (!accepted.ok()) return cli.failure(accepted.error().to_string());
      link = std::move(accepted).value();
    } else {
      auto connected = connect_peer(connect, kWaitForPeerNs);
      if (!connected.ok()) return cli.failure(connected.error().to_string());
      link = std::move(connected).value();
    }
    PeerOptions peer;
    peer.suite = options;
    peer.die = [&cli] {
      std::fprintf(cli.err, "%s: server: killing this process (SIGKILL) mid-transfer, for "
                            "robustness/peer-process-killed\n", cli.program.c_str());
      std::fflush(cli.out);
      std::fflush(cli.err);
      raise(SIGKILL);
    };
    report = run_peer(*ends[0], *link, role == "server" ? PeerRole::kServer : PeerRole::kClient, peer);
  }
  std::fputs(report.table().c_str(), out);
  std::fflush(out);
  if (!json.empty()) {
    std::ofstream file(json);
    file << report.json();
    if (!file) return cli.failure("cannot write " + json);
  }
  return report.passed() ? 0 : 1;
}

}  // namespace ferry::qualify
