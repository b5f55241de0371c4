// Benchmarks of the engine against the raw provider, in one run.
//
//   bazel run --config=opt //benchmarks:engine_bench
//
// BM_PagedWritePost/<fabric>   one write_paged call of 100,000 scattered 4 KiB pages (no
//                              two merge: 100,000 work requests), then the engine's
//                              progress() alone on this thread until it called back.
//                              Per descriptor, from the call, in CPU time of the thread:
//                              ns_per_descriptor_returned  until write_paged returned
//                                (the first send queue's worth is posted by then);
//                              ns_per_descriptor_posted    until the provider took the
//                                last work request (null only: it counts what it took);
//                              ns_per_descriptor_completed until the transfer called back.
//                              On null nothing moves, so these are the engine's own cost;
//                              on emu_fast they include the emulator's copy of 400 MiB.
// BM_ProviderWrite/<bytes>/<rails>  the baseline: one write per rail of bytes/rails,
//                              posted straight on emu fast mode's endpoints and polled.
// BM_EngineWrite/<bytes>/<rails>    Engine::write of the same bytes (striped when large);
//                              vs_provider = engine time / provider time, the two
//                              interleaved iteration by iteration (goal <= 1.10).
#include <benchmark/benchmark.h>

#include <time.h>

#include <chrono>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "fabrics/cluster_factory.h"
#include "transport/engine/engine_cluster.h"
#include "transport/null/null_provider.h"
#include "transport/random.h"

namespace {

using namespace ferry;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU time of this thread: what the engine costs, unlike wall time, does not grow while
// other processes hold the core.
double thread_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Two nodes of `provider` (by default emu's fast mode: real time, real copies), `rails`
// NICs each.
std::unique_ptr<Cluster> fast_fabric(size_t rails, const char* provider = fabrics::kEmuFast) {
  fabrics::ClusterOptions o;
  o.provider = provider;
  o.nodes = 2;
  o.nic_gbps.assign(rails, 100);
  return must(fabrics::make_cluster(o));
}

// Two engines with a registered buffer each, rank 1's imported by rank 0, connected.
struct EnginePair {
  EnginePair(size_t rails, uint64_t bytes, const char* provider = fabrics::kEmuFast)
      : cluster(fast_fabric(rails, provider), EngineConfig{}) {
    must(cluster.opened());
    for (int r = 0; r < 2; ++r) {
      buffer[r].assign(bytes, static_cast<uint8_t>(r + 1));
      registration[r] = must(cluster.engine(r).register_memory(buffer[r].data(), bytes));
    }
    target = must(cluster.engine(0).import_region(rank_name(1), registration[1]->descriptor().serialize()));
    // Connect with one small write.
    write_and_wait(1);
  }

  void write_and_wait(uint64_t bytes) {
    bool done = false;
    must(cluster.engine(0).write(rank_name(1), buffer[0].data(), bytes, target, 0, std::nullopt,
                                 [&](const TransferResult& r) {
                                   if (!r.ok()) throw std::runtime_error(r.error().message);
                                   done = true;
                                 }));
    if (!cluster.run_until([&] { return done; })) throw std::runtime_error("write never finished");
  }

  EngineCluster cluster;
  std::vector<uint8_t> buffer[2];
  const Registration* registration[2] = {nullptr, nullptr};
  RemoteRegion target;
};

void BM_PagedWritePost(benchmark::State& state, const char* provider) {
  constexpr uint32_t kPages = 100'000;
  constexpr uint64_t kPage = 4096;
  const bool null_fabric = std::string(provider) == fabrics::kNull;
  EnginePair pair(1, uint64_t{kPages} * kPage, provider);
  Engine& engine = pair.cluster.engine(0);
  const Provider& node = pair.cluster.fabric().node(0);
  // Scattered block tables on both sides: no two pages merge, 100,000 descriptors.
  std::vector<uint32_t> src(kPages), dst(kPages);
  std::iota(src.begin(), src.end(), 0u);
  std::iota(dst.begin(), dst.end(), 0u);
  ferry::Rng rng(1);
  for (size_t i = kPages - 1; i > 0; --i) {
    std::swap(src[i], src[rng.below(i + 1)]);
    std::swap(dst[i], dst[rng.below(i + 1)]);
  }
  PagedTransfer pages{src, dst, kPage, pair.buffer[0].data(), kPage, pair.target, 0, kPage};
  double returned_seconds = 0, posted_seconds = 0, done_seconds = 0;
  for (auto _ : state) {
    bool done = false, failed = false;
    const uint64_t posted_before = null_fabric ? must(null::requests_posted(node)) : 0;
    double posted = 0;
    const double t0 = thread_seconds();
    must(engine.write_paged(rank_name(1), pages, std::nullopt, [&](const TransferResult& r) {
      done = true;
      failed = !r.ok();
    }));
    const double returned = thread_seconds() - t0;
    // Only this engine's progress(), as one core driving one engine would; the fabric is
    // stepped only when the engine had nothing to do (never on null).
    while (!done) {
      if (!engine.progress()) pair.cluster.round();
      if (null_fabric && posted == 0 && must(null::requests_posted(node)) - posted_before >= kPages) {
        posted = thread_seconds() - t0;
      }
    }
    const double completed = thread_seconds() - t0;
    if (failed) state.SkipWithError("paged write failed");
    returned_seconds += returned;
    posted_seconds += posted;
    done_seconds += completed;
    state.SetIterationTime(null_fabric ? posted : completed);
  }
  const double descriptors = static_cast<double>(state.iterations()) * kPages;
  state.counters["ns_per_descriptor_returned"] = returned_seconds * 1e9 / descriptors;
  if (null_fabric) state.counters["ns_per_descriptor_posted"] = posted_seconds * 1e9 / descriptors;
  state.counters["ns_per_descriptor_completed"] = done_seconds * 1e9 / descriptors;
  if (null_fabric) return;  // nothing landed
  for (size_t i = 0; i < kPages; i += 997) {
    if (std::memcmp(pair.buffer[1].data() + dst[i] * kPage, pair.buffer[0].data() + src[i] * kPage, kPage)) {
      state.SkipWithError("a page landed in the wrong place");
      break;
    }
  }
}

// The raw provider path: one endpoint pair per rail, bytes/rails per rail.
struct ProviderPaths {
  ProviderPaths(Cluster& fabric, size_t rails, std::vector<uint8_t>* buffer) {
    for (size_t r = 0; r < rails; ++r) {
      Lane lane;
      for (int n = 0; n < 2; ++n) {
        Device& device = fabric.node(n).device(r);
        lane.pd[n] = must(device.create_protection_domain());
        lane.cq[n] = must(device.create_completion_queue(64));
        lane.region[n] = must(lane.pd[n]->register_memory(buffer[n].data(), buffer[n].size(),
                                                          kAccessLocalWrite | kAccessRemoteWrite,
                                                          MemoryKind::kHost));
        EndpointConfig ec;
        ec.send_cq = ec.recv_cq = lane.cq[n].get();
        lane.endpoint[n] = must(lane.pd[n]->create_endpoint(ec));
      }
      must(lane.endpoint[0]->connect(lane.endpoint[1]->address()));
      must(lane.endpoint[1]->connect(lane.endpoint[0]->address()));
      lanes.push_back(std::move(lane));
    }
    buffers = buffer;
  }

  void write(uint64_t bytes) {
    const uint64_t share = bytes / lanes.size();
    for (size_t r = 0; r < lanes.size(); ++r) {
      Sge sge{reinterpret_cast<uint64_t>(buffers[0].data()) + r * share, static_cast<uint32_t>(share),
              lanes[r].region[0]->lkey()};
      WorkRequest wr{r, Opcode::kWrite, &sge, 1,
                     reinterpret_cast<uint64_t>(buffers[1].data()) + r * share, lanes[r].region[1]->rkey()};
      must(lanes[r].endpoint[0]->post_send({&wr, 1}));
    }
    for (auto& lane : lanes) {
      Completion c;
      while (must(lane.cq[0]->poll({&c, 1})) == 0) {
      }
      if (c.status != Status::kSuccess) throw std::runtime_error(to_string(c.status));
    }
  }

  struct Lane {
    std::unique_ptr<ProtectionDomain> pd[2];
    std::unique_ptr<CompletionQueue> cq[2];
    std::unique_ptr<MemoryRegion> region[2];
    std::unique_ptr<Endpoint> endpoint[2];
  };
  std::vector<Lane> lanes;
  std::vector<uint8_t>* buffers = nullptr;
};

void BM_ProviderWrite(benchmark::State& state) {
  const uint64_t bytes = static_cast<uint64_t>(state.range(0));
  const size_t rails = static_cast<size_t>(state.range(1));
  std::unique_ptr<Cluster> fabric = fast_fabric(rails);
  std::vector<uint8_t> buffers[2] = {std::vector<uint8_t>(bytes, 1), std::vector<uint8_t>(bytes, 2)};
  ProviderPaths paths(*fabric, rails, buffers);
  for (auto _ : state) paths.write(bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  if (buffers[0] != buffers[1]) state.SkipWithError("data mismatch");
}

void BM_EngineWrite(benchmark::State& state) {
  const uint64_t bytes = static_cast<uint64_t>(state.range(0));
  const size_t rails = static_cast<size_t>(state.range(1));
  EnginePair pair(rails, bytes);
  // The baseline, interleaved with the engine so that both see the same machine: the
  // raw provider over its own endpoints between the same buffers.
  std::unique_ptr<Cluster> fabric = fast_fabric(rails);
  ProviderPaths paths(*fabric, rails, pair.buffer);
  double engine_seconds = 0, provider_seconds = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    pair.write_and_wait(bytes);
    const double engine = seconds_since(t0);
    const auto t1 = std::chrono::steady_clock::now();
    paths.write(bytes);
    provider_seconds += seconds_since(t1);
    engine_seconds += engine;
    state.SetIterationTime(engine);
  }
  if (pair.buffer[0] != pair.buffer[1]) state.SkipWithError("data mismatch");
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["vs_provider"] = engine_seconds / provider_seconds;
}

BENCHMARK_CAPTURE(BM_PagedWritePost, null, fabrics::kNull)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(20);
BENCHMARK_CAPTURE(BM_PagedWritePost, emu_fast, fabrics::kEmuFast)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(5);
BENCHMARK(BM_ProviderWrite)
    ->ArgsProduct({{1 << 20, 64 << 20}, {1, 2, 4}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_EngineWrite)
    ->ArgsProduct({{1 << 20, 64 << 20}, {1, 2, 4}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
