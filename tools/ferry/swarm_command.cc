// ferry swarm: seeded randomised runs of the engine and the workloads under faults,
// checking that nothing is lost (docs/reliability.md, "Swarm").
#include <chrono>
#include <cstdio>
#include <string>

#include "tools/ferry/command.h"
#include "tools/ferry/exit_codes.h"
#include "tools/ferry/help.h"
#include "tools/ferry/swarm/seed_run.h"
#include "tools/ferry/swarm/sweep.h"

namespace ferry::cli {
namespace {

// A count or seed: digits only, within 64 bits.
bool parse_number(const std::string& text, uint64_t* value) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos) return false;
  *value = std::stoull(text);
  return true;
}

int run_one(uint64_t seed) {
  const swarm::SeedPlan plan = swarm::draw_plan(seed);
  std::printf("seed %llu draws:\n%s", static_cast<unsigned long long>(seed), swarm::describe(plan).c_str());
  const swarm::SeedOutcome out = swarm::run_plan(plan);
  std::printf("what happened:\n");
  for (const std::string& event : out.events) std::printf("  %s\n", event.c_str());
  std::printf("%zu operations, %zu failed; last ended at %llu ns of virtual time; trace hash %016llx\n",
              out.operations, out.failed, static_cast<unsigned long long>(out.end_ns),
              static_cast<unsigned long long>(out.trace_hash));
  if (out.passed()) {
    std::printf("PASS\n");
    return kExitOk;
  }
  for (const std::string& v : out.violations) std::printf("violated: %s\n", v.c_str());
  std::printf("FAIL\n");
  return kExitFailed;
}

int run_swarm(const ParsedArguments& arguments) {
  const std::string* seed = arguments.value("--seed");
  const std::string* seeds = arguments.value("--seeds");
  if ((seed != nullptr) == (seeds != nullptr)) return usage_error("swarm", "give either --seed N or --seeds N");
  uint64_t value = 0;
  if (seed) {
    if (arguments.has("--first") || arguments.has("--jobs")) {
      return usage_error("swarm", "--first and --jobs go with --seeds, not --seed");
    }
    if (!parse_number(*seed, &value)) return usage_error("swarm", "--seed takes a number, not '" + *seed + "'");
    return run_one(value);
  }
  uint64_t count = 0, first = 1, jobs = 1;
  if (!parse_number(*seeds, &count)) return usage_error("swarm", "--seeds takes a number, not '" + *seeds + "'");
  if (const std::string* f = arguments.value("--first"); f && !parse_number(*f, &first)) {
    return usage_error("swarm", "--first takes a number, not '" + *f + "'");
  }
  if (const std::string* j = arguments.value("--jobs"); j && (!parse_number(*j, &jobs) || jobs == 0 || jobs > 256)) {
    return usage_error("swarm", "--jobs takes a number from 1 to 256, not '" + *j + "'");
  }
  const auto start = std::chrono::steady_clock::now();
  const swarm::SweepResult result = swarm::sweep(first, count, static_cast<unsigned>(jobs));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%llu seeds, %zu failed (%.1f s)\n", static_cast<unsigned long long>(result.seeds),
              result.failures.size(), seconds);
  for (const swarm::SeedFailure& f : result.failures) {
    std::printf("  ferry swarm --seed %llu   # %s\n", static_cast<unsigned long long>(f.seed), f.why.c_str());
  }
  std::fflush(stdout);
  return result.failures.empty() ? kExitOk : kExitFailed;
}

}  // namespace

Command swarm_command() {
  CommandSpec spec;
  spec.name = "swarm";
  spec.summary = "seeded randomised runs under faults, checking that nothing is lost";
  spec.description =
      "Each seed draws, deterministically, a cluster on the emulator's deterministic mode (2 to 8 ranks, 1 or 2 "
      "rails of 25 to 200 Gb/s, RC or SRD, packet loss, propagation delay, SRD reordering), a mix of traffic "
      "(engine writes, writes with immediate, paged writes, of 1 byte to 96 KiB at random times; an "
      "all-reduce over every rank with a random algorithm and scratch size; a KV-cache migration between a prefill "
      "and a decode group; a weight broadcast down a chain or tree; a pipeline link between two stages) and a schedule of faults (loss, SRD "
      "duplicates, lost acknowledgements, a link down and up again, a NIC's death, a node's loss).\n\n"
      "The run checks that every transfer and workload reported successful put every byte in place (an "
      "all-reduce's every element, a migration's every KV element, every micro-batch in order), that a "
      "notification's wait ends only once its bytes are there, that every failure is an error result "
      "(unavailable or deadline exceeded) and comes only where the faults cut two ranks of the work apart (a "
      "node lost, every rail between them struck): where a rail survives, the engine must fail over and "
      "succeed. Every operation must end exactly once within its bound of virtual time, the run must end (no "
      "hang), and nothing may call back once the cluster is torn down. The same seed always gives the same run "
      "and trace hash. docs/reliability.md, \"Swarm\", gives the details.\n\n"
      "--seed N runs one seed and prints what it drew, how each operation ended, and PASS or FAIL with the "
      "invariant violated. --seeds N runs N seeds (from --first, 1 by default) over --jobs worker processes "
      "and prints \"N seeds, F failed\" and, for each failure, the command that reproduces it.";
  spec.options = {
      {"--seed", "N", "run seed N alone, verbosely"},
      {"--seeds", "N", "run N seeds and summarise"},
      {"--first", "S", "with --seeds: the first seed (default 1)"},
      {"--jobs", "J", "with --seeds: worker processes (default 1); a seed that crashes its worker fails"},
  };
  spec.exit_ok = "every seed passed";
  spec.exit_failed = "a seed violated an invariant or crashed";
  return Command{spec, run_swarm};
}

}  // namespace ferry::cli
