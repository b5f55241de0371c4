// Benchmarks of the emulator's fast mode against memcpy, measured in the same run.
//
//   bazel run --config=opt //emu:emu_bench
//
// BM_Memcpy/<bytes>      the physical limit: one memcpy between the same two buffers
// BM_EmuWrite/<bytes>    one RDMA write posted and its completion polled, fast mode;
//                        counters: vs_memcpy (throughput ratio to a memcpy loop timed in
//                        the same benchmark) and overhead_ns (time per operation beyond
//                        that memcpy)
// BM_EmuWriteImmLatency  an 8-byte write-with-immediate from post until the target
//                        polls its completion
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "emu/fabric.h"

namespace {

using namespace ferry;

// Two fast-mode nodes with one RC endpoint each, connected, and a registered buffer on
// each side.
struct Pair {
  explicit Pair(size_t bytes) : fabric(emu::FabricConfig{}) {
    for (int n = 0; n < 2; ++n) {
      Device& device = fabric.node(n).device(0);
      pd[n] = must(device.create_protection_domain());
      cq[n] = must(device.create_completion_queue(1024));
      buffer[n].assign(bytes, static_cast<uint8_t>(n + 1));
      region[n] = must(pd[n]->register_memory(buffer[n].data(), bytes,
                                              kAccessLocalWrite | kAccessRemoteWrite,
                                              MemoryKind::kHost));
      EndpointConfig ec;
      ec.send_cq = ec.recv_cq = cq[n].get();
      endpoint[n] = must(pd[n]->create_endpoint(ec));
    }
    must(endpoint[0]->connect(endpoint[1]->address()));
    must(endpoint[1]->connect(endpoint[0]->address()));
  }

  // Waits for one completion on node n's queue and checks it.
  void await_one(int n) {
    Completion c;
    while (must(cq[n]->poll({&c, 1})) == 0) {
    }
    if (c.status != Status::kSuccess) throw std::runtime_error(to_string(c.status));
  }

  emu::Fabric fabric;
  std::unique_ptr<ProtectionDomain> pd[2];
  std::unique_ptr<CompletionQueue> cq[2];
  std::vector<uint8_t> buffer[2];
  std::unique_ptr<MemoryRegion> region[2];
  std::unique_ptr<Endpoint> endpoint[2];
};

void BM_Memcpy(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> src(bytes, 1), dst(bytes, 2);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void BM_EmuWrite(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  Pair pair(bytes);
  Sge sge{reinterpret_cast<uint64_t>(pair.buffer[0].data()), static_cast<uint32_t>(bytes),
          pair.region[0]->lkey()};
  WorkRequest write{0, Opcode::kWrite, &sge, 1,
                    reinterpret_cast<uint64_t>(pair.buffer[1].data()), pair.region[1]->rkey()};
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    must(pair.endpoint[0]->post_send({&write, 1}));
    pair.await_one(0);
  }
  const double emu_seconds = seconds_since(t0);
  const int64_t iterations = state.iterations();
  if (pair.buffer[1] != pair.buffer[0]) state.SkipWithError("written data does not match");

  // The same number of memcpy calls between the same buffers: the baseline.
  const auto t1 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < iterations; ++i) {
    std::memcpy(pair.buffer[1].data(), pair.buffer[0].data(), bytes);
    benchmark::ClobberMemory();
  }
  const double memcpy_seconds = seconds_since(t1);

  state.SetBytesProcessed(static_cast<int64_t>(iterations * bytes));
  state.counters["vs_memcpy"] = memcpy_seconds / emu_seconds;
  state.counters["overhead_ns"] =
      (emu_seconds - memcpy_seconds) * 1e9 / static_cast<double>(iterations);
}

void BM_EmuWriteImmLatency(benchmark::State& state) {
  Pair pair(8);
  Sge sge{reinterpret_cast<uint64_t>(pair.buffer[0].data()), 8, pair.region[0]->lkey()};
  WorkRequest write{0, Opcode::kWriteWithImm, &sge, 1,
                    reinterpret_cast<uint64_t>(pair.buffer[1].data()), pair.region[1]->rkey(), 42};
  write.signaled = false;  // the initiator's queue only hears of errors
  RecvRequest recv{0, nullptr, 0};
  for (auto _ : state) {
    must(pair.endpoint[1]->post_recv({&recv, 1}));
    must(pair.endpoint[0]->post_send({&write, 1}));
    pair.await_one(1);
  }
}

BENCHMARK(BM_Memcpy)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20);
BENCHMARK(BM_EmuWrite)->Arg(4 << 10)->Arg(64 << 10)->Arg(1 << 20)->Arg(16 << 20);
BENCHMARK(BM_EmuWriteImmLatency);

}  // namespace

BENCHMARK_MAIN();
