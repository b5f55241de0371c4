// moe_bench: MoE dispatch and combine of a DeepSeek-V3-like layer at several EP sizes,
// all ranks in one process on the emulator, every result verified.
//
//   bazel run --config=opt //benchmarks:moe_bench
//   bazel run --config=opt //benchmarks:moe_bench -- --mode fast
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "transport/workloads/moe/testing/moe_cluster.h"

namespace {

using namespace ferry;
using namespace ferry::moe;
using namespace ferry::moe::testing;

constexpr const char* kUsage = R"(usage: moe_bench [options]

Times MoE dispatch and combine with every rank of an expert-parallel group in this
process, over the in-process emulator, and verifies every received row, every
per-expert count and every combined token against a local reference.

  --ep LIST            EP sizes, comma-separated (default 8,16,32)
  --tokens N           tokens per rank (default 128)
  --hidden N           elements per token (default 7168)
  --topk N             experts per token (default 8)
  --experts N          experts in all (default 256)
  --element-bytes N    bytes per dispatched element (default 2: bf16); combine is bf16
  --routing R          uniform or skewed: one hot expert in 9 tokens of 10 (default uniform)
  --moe-mode M         low-latency or normal (default: low-latency up to 128 tokens)
  --mode M             deterministic: virtual time, reproducible (default);
                       fast: wall time, every rank's work on this one thread
  --gbps G             link rate of each rank's one rail, Gbit/s (default 400)
  --iterations N       measured calls after one warm-up call (default 1)
  --seed N             routing and fabric seed (default 1)
  --help               this text

Prints per EP and phase: time (µs, from the first rank's start to the last rank's
end); payload GB/s per rank and for all ranks together (payload: the routed hidden
vectors, or expert rows, that ranks sent to other ranks); payload bytes and bytes on
the wire (payload + headers, as the engines counted them), all ranks together. Then
the memory one rank holds. Exit status: 0 when everything verified, 1 when something did not, 2 on bad
arguments.
)";

struct Options {
  std::vector<uint32_t> ep = {8, 16, 32};
  uint32_t tokens = 128;
  MoeConfig moe{.experts = 256, .top_k = 8, .hidden = 7168, .element_bytes = 2, .max_tokens = 128,
                .mode = MoeMode::kLowLatency};
  bool moe_mode_given = false;
  Routing routing = Routing::kUniform;
  std::string provider = fabrics::kEmu;
  double gbps = 400;
  uint32_t iterations = 1;
  uint64_t seed = 1;
};

bool parse_u64(const char* text, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') return false;
  *out = v;
  return true;
}

bool parse_u32(const char* text, uint32_t* out, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  if (!parse_u64(text, &v) || v < min || v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool parse_list(const std::string& text, std::vector<uint32_t>* out) {
  out->clear();
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    uint32_t v = 0;
    if (!parse_u32(item.c_str(), &v, 1, 1024)) return false;
    out->push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return !out->empty();
}

// 0: run; 1: --help printed; 2: bad arguments (message printed).
int parse(int argc, char** argv, Options* o) {
  auto bad = [](const std::string& why) {
    std::fprintf(stderr, "moe_bench: %s (see --help)\n", why.c_str());
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 1;
    }
    if (i + 1 >= argc) return bad(arg + " needs a value, or is unknown");
    const char* v = argv[++i];
    const std::string value = v;
    if (arg == "--ep") {
      if (!parse_list(value, &o->ep)) return bad("--ep needs a list of sizes in [1, 1024]");
    } else if (arg == "--tokens") {
      if (!parse_u32(v, &o->tokens, 1, 1 << 20)) return bad("--tokens needs an integer in [1, 1048576]");
    } else if (arg == "--hidden") {
      if (!parse_u32(v, &o->moe.hidden, 1, 1 << 20)) return bad("--hidden needs an integer in [1, 1048576]");
    } else if (arg == "--topk") {
      if (!parse_u32(v, &o->moe.top_k, 1, 1024)) return bad("--topk needs an integer in [1, 1024]");
    } else if (arg == "--experts") {
      if (!parse_u32(v, &o->moe.experts, 1, 1 << 20)) return bad("--experts needs an integer in [1, 1048576]");
    } else if (arg == "--element-bytes") {
      if (!parse_u32(v, &o->moe.element_bytes, 1, 16)) return bad("--element-bytes needs an integer in [1, 16]");
    } else if (arg == "--routing") {
      if (value == "uniform") {
        o->routing = Routing::kUniform;
      } else if (value == "skewed") {
        o->routing = Routing::kSkewed;
      } else {
        return bad("--routing must be uniform or skewed");
      }
    } else if (arg == "--moe-mode") {
      o->moe_mode_given = true;
      if (value == "low-latency") {
        o->moe.mode = MoeMode::kLowLatency;
      } else if (value == "normal") {
        o->moe.mode = MoeMode::kNormal;
      } else {
        return bad("--moe-mode must be low-latency or normal");
      }
    } else if (arg == "--mode") {
      if (value == "deterministic") {
        o->provider = fabrics::kEmu;
      } else if (value == "fast") {
        o->provider = fabrics::kEmuFast;
      } else {
        return bad("--mode must be deterministic or fast");
      }
    } else if (arg == "--gbps") {
      char* end = nullptr;
      o->gbps = std::strtod(v, &end);
      if (end == v || *end != '\0' || !(o->gbps > 0) || o->gbps > 1e6) return bad("--gbps needs a positive rate");
    } else if (arg == "--iterations") {
      if (!parse_u32(v, &o->iterations, 1, 1000)) return bad("--iterations needs an integer in [1, 1000]");
    } else if (arg == "--seed") {
      if (!parse_u64(v, &o->seed)) return bad("--seed needs a non-negative integer");
    } else {
      return bad("unknown argument '" + arg + "'");
    }
  }
  o->moe.max_tokens = o->tokens;
  if (!o->moe_mode_given) o->moe.mode = o->tokens <= kLowLatencyMaxTokens ? MoeMode::kLowLatency : MoeMode::kNormal;
  for (uint32_t ep : o->ep) {
    auto geometry = MoeGeometry::make(o->moe, ep);
    if (!geometry.ok()) return bad("EP " + std::to_string(ep) + ": " + geometry.error().message);
  }
  return 0;
}

// One phase's figures, summed over iterations.
struct Phase {
  double seconds = 0;
  uint64_t payload_bytes = 0;
  uint64_t wire_bytes = 0;
};

uint64_t engine_bytes(MoeCluster& moe) {
  uint64_t bytes = 0;
  for (uint32_t r = 0; r < moe.size(); ++r) {
    for (const auto& [peer, counters] : moe.cluster().engine(r).stats().peers) bytes += counters.bytes;
  }
  return bytes;
}

// Adds one call's figures: its span from the first rank's start to the last rank's end,
// and its bytes, checked against what the engines moved.
void account(MoeCluster& moe, const MoeCallStats& (ExpertParallel::*stats)() const, uint64_t engine_before,
             Phase* phase) {
  uint64_t start = UINT64_MAX, end = 0, payload = 0, wire = 0;
  for (uint32_t r = 0; r < moe.size(); ++r) {
    const MoeCallStats& s = (moe.rank(r).*stats)();
    start = std::min(start, s.start_ns);
    end = std::max(end, s.end_ns);
    payload += s.payload_bytes;
    wire += s.wire_bytes;
  }
  const uint64_t moved = engine_bytes(moe) - engine_before;
  if (moved != wire) {
    throw std::runtime_error("the engines moved " + std::to_string(moved) + " bytes, the messages hold " +
                             std::to_string(wire));
  }
  phase->seconds += static_cast<double>(end - start) * 1e-9;
  phase->payload_bytes += payload;
  phase->wire_bytes += moved;
}

void check(const std::string& problem) {
  if (!problem.empty()) throw std::runtime_error(problem);
}

void check_all(RankTasks& tasks, MoeCluster& moe, const char* call) {
  if (!moe.finish(tasks)) throw std::runtime_error(std::string(call) + " did not finish");
  for (uint32_t r = 0; r < moe.size(); ++r) {
    VoidResult result = tasks.result(r);
    if (!result.ok()) throw std::runtime_error(result.error().to_string());
  }
}

// Runs one EP size: a warm-up call (connections), then the measured, verified calls.
void run(const Options& o, uint32_t ep, Phase* dispatch, Phase* combine, MoeMemory* memory) {
  MoeClusterOptions co;
  co.provider = o.provider;
  co.ranks = ep;
  co.seed = o.seed;
  co.rail_gbps = {o.gbps};
  co.moe = o.moe;
  MoeCluster moe(co);
  const std::vector<RankInputs> inputs = moe.make_inputs(o.routing, o.tokens, o.seed);
  check(moe.cycle(inputs));
  *memory = moe.rank(0).memory();
  const Reference reference(moe.geometry(), inputs);
  std::vector<std::vector<uint16_t>> outputs(ep), combined;
  for (uint32_t i = 0; i < o.iterations; ++i) {
    uint64_t before = engine_bytes(moe);
    RankTasks dispatched = moe.dispatch(inputs);
    check_all(dispatched, moe, "dispatch");
    account(moe, &ExpertParallel::last_dispatch, before, dispatch);
    for (uint32_t r = 0; r < ep; ++r) {
      check(reference.check_dispatch(r, moe.rank(r).received()));
      reference.run_experts(r, moe.rank(r).received(), &outputs[r]);
    }
    before = engine_bytes(moe);
    RankTasks combining = moe.combine(inputs, outputs, &combined);
    check_all(combining, moe, "combine");
    account(moe, &ExpertParallel::last_combine, before, combine);
    for (uint32_t r = 0; r < ep; ++r) check(reference.check_combine(r, combined[r]));
  }
}

void print_row(uint32_t ep, const char* name, const Phase& p, uint32_t iterations) {
  const double seconds = p.seconds / iterations;
  const double payload = static_cast<double>(p.payload_bytes) / iterations;
  const double wire = static_cast<double>(p.wire_bytes) / iterations;
  std::printf("%4u  %-8s  %10.1f  %10.2f  %9.2f  %14.0f  %14.0f\n", ep, name, seconds * 1e6,
              payload / ep / seconds / 1e9, payload / seconds / 1e9, payload, wire);
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const int parsed = parse(argc, argv, &o);
  if (parsed == 1) return 0;
  if (parsed != 0) return parsed;

  const bool virtual_time = o.provider == fabrics::kEmu;
  std::printf("moe_bench: emu %s mode: %s\n", virtual_time ? "deterministic" : "fast",
              virtual_time ? "times are virtual (the emulated fabric's clock), reproducible for a seed"
                           : "times are wall time, every rank's work on this one thread");
  std::printf("shape: hidden %u x %u-byte elements, top-%u of %u experts, %u tokens per rank, %s routing, %s mode\n",
              o.moe.hidden, o.moe.element_bytes, o.moe.top_k, o.moe.experts, o.tokens,
              o.routing == Routing::kUniform ? "uniform" : "skewed",
              o.moe.mode == MoeMode::kLowLatency ? "low-latency" : "normal");
  std::printf("fabric: one %.0f Gbit/s RC rail per rank; %u measured call(s) after one warm-up, averaged\n\n", o.gbps,
              o.iterations);
  std::printf("%4s  %-8s  %10s  %10s  %9s  %14s  %14s\n", "EP", "phase", "time_us", "GB/s/rank", "GB/s_all",
              "payload_bytes", "wire_bytes");
  std::vector<MoeMemory> memory(o.ep.size());
  for (size_t i = 0; i < o.ep.size(); ++i) {
    const uint32_t ep = o.ep[i];
    Phase dispatch, combine;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      run(o, ep, &dispatch, &combine, &memory[i]);
    } catch (const std::exception& e) {
      std::printf("FAILED at EP %u: %s\n", ep, e.what());
      return 1;
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    print_row(ep, "dispatch", dispatch, o.iterations);
    print_row(ep, "combine", combine, o.iterations);
    std::fprintf(stderr, "moe_bench: EP %u took %.1f s of wall time (setup and verification included)\n", ep, wall);
  }
  std::printf("\nmemory of rank 0 after the warm-up, MiB (low-latency: all of it reserved at setup)\n");
  std::printf("%4s  %10s  %16s  %15s  %11s\n", "EP", "region", "dispatch_staging", "combine_staging", "expert_rows");
  for (size_t i = 0; i < o.ep.size(); ++i) {
    const double mib = 1 << 20;
    std::printf("%4u  %10.1f  %16.1f  %15.1f  %11.1f\n", o.ep[i], memory[i].region_bytes / mib,
                memory[i].dispatch_staging_bytes / mib, memory[i].combine_staging_bytes / mib,
                memory[i].expert_rows_bytes / mib);
  }
  std::printf("\nverified: every received row, per-expert count and combined token matches the local reference\n");
  return 0;
}
