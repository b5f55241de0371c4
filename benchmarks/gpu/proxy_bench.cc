// GPU-initiated transfers through the host proxy (docs/device-api.md):
//
//   BM_RingRoundTrip      one GPU thread publishes a put-signal descriptor and spins on
//                         its counter; a host thread takes each descriptor and bumps the
//                         counter at once (no engine). p50 round trip, and half of it: the
//                         kernel → host post latency of the ring.
//   BM_ProxyPutRoundTrip  the same through the Proxy and the engine on emu's fast mode: an
//                         8-byte put from pinned memory to the peer, the counter bumped
//                         when the write completed (ring + proxy + engine + emu).
//   BM_ProxyDescriptorRate  host threads publish 8-byte puts into one channel: descriptors
//                         per second through one proxy thread on emu's fast mode (the
//                         engine and emu's cost per transfer; no GPU work).
//
//   bazel run --config=opt //benchmarks:proxy_bench     (on a machine with a GPU)
//   bash tools/gpu-test.sh                              (builds here, runs there)
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "benchmarks/gpu/gpu_benchmark_main.h"
#include "benchmarks/gpu/proxy_bench_kernels.h"
#include "transport/engine/engine_cluster.h"
#include "transport/engine/testing/world_options.h"
#include "transport/gpu/runtime.h"
#include "transport/proxy/proxy.h"

namespace ferry {
namespace {

constexpr uint32_t kRoundTrips = 2000;  // per kernel launch
constexpr uint64_t kWindow = 1 << 20;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "proxy_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T must_ok(Result<T> r) {
  if (!r.ok()) die(r.error().to_string());
  return std::move(r).value();
}

std::unique_ptr<proxy::Channel> channel(MemoryKind producers) {
  proxy::ChannelOptions o;
  o.capacity = 1024;
  o.signals = 1;
  o.producers = producers;
  return must_ok(proxy::Channel::create(o));
}

// Two ranks on emu's fast mode; rank 0's window (pinned host memory) registered, rank
// 1's buffer imported by rank 0. A proxy drives each engine.
struct Pair {
  explicit Pair(proxy::Channel& ch) {
    testing::WorldOptions o;
    o.provider = fabrics::kEmuFast;
    cluster = std::make_unique<EngineCluster>(testing::make_fabric(o), testing::engine_config(o));
    if (!cluster->opened().ok()) die(cluster->opened().error().to_string());
    window = must_ok(gpu::PinnedBuffer::allocate(kWindow));
    target.assign(kWindow, 0);
    must_ok(cluster->engine(0).register_memory(window.data(), kWindow));
    auto reg = must_ok(cluster->engine(1).register_memory(target.data(), kWindow));
    const RemoteRegion region = must_ok(cluster->engine(0).import_region(rank_name(1), reg->descriptor().serialize()));
    proxy::ProxyConfig c;
    c.local_window = window.data();
    c.local_bytes = kWindow;
    c.peers = {proxy::PeerWindow{}, proxy::PeerWindow{rank_name(1), region, kWindow}};
    source = std::make_unique<proxy::Proxy>(cluster->engine(0), c);
    sink = std::make_unique<proxy::Proxy>(cluster->engine(1), proxy::ProxyConfig{});
    if (auto added = source->add_channel(ch); !added.ok()) die(added.error().to_string());
    if (!sink->start().ok() || !source->start().ok()) die("a proxy did not start");
  }
  ~Pair() {
    source->stop();
    sink->stop();
  }
  // The memory outlives the engines, the engines the proxies.
  gpu::PinnedBuffer window;
  std::vector<uint8_t> target;
  std::unique_ptr<EngineCluster> cluster;
  std::unique_ptr<proxy::Proxy> source, sink;
};

// Launches kRoundTrips round trips per iteration and reports their p50 and p99.
void time_round_trips(benchmark::State& state, proxy::Channel& ch) {
  cudaStream_t stream = nullptr;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);  // emu's copies use the default stream
  gpu::PinnedBuffer times = must_ok(gpu::PinnedBuffer::allocate(sizeof(uint64_t) * kRoundTrips));
  gpu::PinnedBuffer status = must_ok(gpu::PinnedBuffer::allocate(sizeof(uint32_t)));
  std::vector<uint64_t> all;
  uint64_t before = 0;
  for (auto _ : state) {
    if (auto r = bench::launch_round_trips(ch.context(), before, kRoundTrips, times.as<uint64_t>(),
                                           status.as<uint32_t>(), stream);
        !r.ok()) {
      state.SkipWithError(r.error().to_string().c_str());
      break;
    }
    cudaStreamSynchronize(stream);
    if (*status.as<uint32_t>() != 0) {
      state.SkipWithError(proxy::to_string(static_cast<proxy::Status>(*status.as<uint32_t>())));
      break;
    }
    all.insert(all.end(), times.as<uint64_t>(), times.as<uint64_t>() + kRoundTrips);
    before += kRoundTrips;
  }
  cudaStreamDestroy(stream);
  if (all.empty()) return;
  std::sort(all.begin(), all.end());
  const double p50_us = all[all.size() / 2] / 1e3;
  state.counters["p50_round_trip_us"] = p50_us;
  state.counters["p50_one_way_us"] = p50_us / 2;
  state.counters["p99_round_trip_us"] = all[all.size() * 99 / 100] / 1e3;
  state.counters["round_trips"] = static_cast<double>(all.size());
}

void BM_RingRoundTrip(benchmark::State& state) {
  auto ch = channel(MemoryKind::kDevice);
  const proxy::Context c = ch->context();
  std::atomic<bool> stop{false};
  // The proxy's part without the engine: take, bump the counter, mark done.
  std::thread echo([&] {
    proxy::Descriptor d;
    for (uint64_t t = 0; !stop.load(std::memory_order_relaxed);) {
      if (!proxy::take(c, t, d)) continue;
      ++t;
      proxy::store_release(&c.counters[d.signal], proxy::load_acquire(&c.counters[d.signal]) + d.value);
      proxy::store_release(&c.words->completed, t);
    }
  });
  time_round_trips(state, *ch);
  stop = true;
  echo.join();
}
BENCHMARK(BM_RingRoundTrip)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ProxyPutRoundTrip(benchmark::State& state) {
  auto ch = channel(MemoryKind::kDevice);
  Pair pair(*ch);
  time_round_trips(state, *ch);
}
BENCHMARK(BM_ProxyPutRoundTrip)->Iterations(5)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ProxyDescriptorRate(benchmark::State& state) {
  constexpr uint64_t kDescriptors = 20000;  // per iteration, over all producers
  const auto producers = static_cast<uint32_t>(state.range(0));
  auto ch = channel(MemoryKind::kHost);
  Pair pair(*ch);
  const proxy::Context c = ch->context();
  for (auto _ : state) {
    std::vector<std::thread> threads;
    for (uint32_t p = 0; p < producers; ++p) {
      threads.emplace_back([&, p] {
        for (uint64_t i = p; i < kDescriptors; i += producers) {
          const uint64_t at = (i * 64) % kWindow;
          if (proxy::put(c, 1, at, at, 8) != proxy::Status::kOk) die("a put timed out");
        }
      });
    }
    for (auto& t : threads) t.join();
    if (proxy::quiet(c) != proxy::Status::kOk) die("quiet failed: " + std::string(proxy::to_string(ch->status())));
  }
  state.counters["descriptors_per_s"] =
      benchmark::Counter(static_cast<double>(kDescriptors), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ProxyDescriptorRate)->ArgName("producers")->Arg(1)->Arg(4)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace ferry

int main(int argc, char** argv) { return ferry::benchmarks::run_gpu_benchmarks("proxy_bench", argc, argv); }
