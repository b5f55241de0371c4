// Pipeline-parallel sends against the line rate, on the sim provider (ns-3).
//
//   bazel run --config=opt //benchmarks:pp_bench
//
// BM_PipelineThroughput/in_flight:N/srd:S  stage 0 sends 64 micro-batches of 512 KiB to
//                                    stage 1 over one 400 Gbit/s link (RoCE RC, or SRD
//                                    with S = 1), with N writes in flight (8 credits),
//                                    every byte checked at stage 1.
//   Time is virtual: from stage 1 having micro-batch 0 to it having the last one, so the
//   connection's setup and the first micro-batch's latency stay out.
//   line_rate      payload bits over that time / 400 Gbit/s (frame headers count against it:
//                  at most 4096 / (4096 + 62) = 0.985 with sim's defaults)
//   Gbps           the same, in Gbit/s
#include <benchmark/benchmark.h>

#include <string>

#include "transport/workloads/pp/testing/pipeline.h"

namespace {

using namespace ferry;

constexpr double kLinkGbps = 400;
constexpr uint64_t kMessageBytes = 512 << 10;
constexpr uint32_t kMicroBatches = 64;
constexpr uint32_t kCredits = 8;

void BM_PipelineThroughput(benchmark::State& state) {
  const auto in_flight = static_cast<uint32_t>(state.range(0));
  const EndpointKind kind = state.range(1) ? EndpointKind::kSrd : EndpointKind::kRc;
  for (auto _ : state) {
    pp::testing::PipelineOptions o;
    o.world.provider = fabrics::kSim;
    o.world.kind = kind;
    o.world.ranks = 2;
    o.world.rail_gbps = {kLinkGbps};
    o.credits = kCredits;
    o.in_flight = in_flight;
    o.max_message_bytes = kMessageBytes;
    o.varied_sizes = false;
    o.micro_batches = kMicroBatches;
    pp::testing::Pipeline p(o);
    p.start();
    if (!p.run()) {
      state.SkipWithError("the pipeline did not finish");
      return;
    }
    for (size_t s = 0; s < p.stages(); ++s) {
      if (!p.tasks[s].result().ok()) {
        state.SkipWithError(("stage " + std::to_string(s) + ": " + p.tasks[s].result().error().message).c_str());
        return;
      }
    }
    if (!p.mismatches.empty()) {
      state.SkipWithError(p.mismatches.front().c_str());
      return;
    }
    const std::vector<uint64_t>& arrived = p.arrived_ns[1];
    const double seconds = static_cast<double>(arrived.back() - arrived.front()) * 1e-9;
    const double gbps = static_cast<double>((kMicroBatches - 1) * kMessageBytes) * 8 / seconds * 1e-9;
    state.SetIterationTime(seconds);
    state.counters["Gbps"] = gbps;
    state.counters["line_rate"] = gbps / kLinkGbps;
    state.counters["in_flight"] = p.senders[0]->window();
  }
}
BENCHMARK(BM_PipelineThroughput)
    ->ArgsProduct({{1, 2, 4, 8}, {0, 1}})
    ->ArgNames({"in_flight", "srd"})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
