// ferry qualify: the hardware qualification suite (hw_tests/qualify_cli.h, the same
// command line as //hw_tests:qualify).
#include <cstdio>
#include <string>
#include <vector>

#include "hw_tests/qualify_cli.h"
#include "tools/ferry/command.h"

namespace ferry::cli {
namespace {

int run_qualify(const ParsedArguments& arguments) {
  std::vector<std::string> args;
  for (const auto& [name, value] : arguments.options) {
    args.push_back(name + "=" + value);
  }
  return qualify::run_cli(args, stdout, stderr, "ferry qualify");
}

}  // namespace

Command qualify_command() {
  CommandSpec spec;
  spec.name = "qualify";
  spec.summary = "check that this host's RDMA devices do what ferry relies on, and how fast";
  spec.description =
      "Runs the qualification suite (docs/qualification.md) between two ends of a link: functional checks "
      "(every operation, ordering, limits), performance checks (bandwidth sweep, latency) against thresholds, "
      "and robustness checks (faults). On verbs both ends are this host, looped back through the NIC, unless "
      "--role makes this process one end of a two-process run (the other end another host, or this one): "
      "start the server, then the client, which prints the report. Prints one row per check and a count.";
  spec.options = {
      {"--provider", "NAME",
       "emu (default: two emulated nodes), sim (two simulated hosts on one switch, virtual time) or verbs (this "
       "host's RDMA devices)"},
      {"--emu-mode", "MODE", "emu: deterministic (default: virtual time, seeded) or fast"},
      {"--emu-nics", "N", "emu, sim: NICs per emulated node or simulated host (default 2)"},
      {"--sim-transport", "T", "sim: roce (default: RC with go-back-N) or srd (EFA-like)"},
      {"--device", "NAME", "verbs: only devices whose name contains NAME"},
      {"--role", "ROLE", "verbs, two processes: server (the target of every check) or client (prints the report)"},
      {"--listen", "HOST:PORT", "server: where the client connects (port 0: any, printed)"},
      {"--connect", "HOST:PORT", "client: the server's address"},
      {"--only", "GROUPS", "run only these groups, comma-separated: functional, performance, robustness (default all)"},
      {"--min-bytes", "N", "smallest message of the bandwidth sweep (default 4096)"},
      {"--max-bytes", "N", "largest message of the bandwidth sweep (default 67108864)"},
      {"--bw-total-bytes", "N", "bytes moved per bandwidth point (default 67108864)"},
      {"--perf-ops", "LIST", "operations measured: any of write,read,send (default all)"},
      {"--thresholds", "FILE", "performance thresholds (default: the built-in ones, as hw_tests/thresholds.conf)"},
      {"--timeout-s", "N", "give up on a completion or transfer after N seconds (default 10)"},
      {"--json", "FILE", "also write the report as JSON to FILE"},
  };
  spec.exit_ok = "every check passed (a check that could not run says why and does not fail the run)";
  spec.exit_failed = "a check failed";
  return Command{spec, run_qualify};
}

}  // namespace ferry::cli
