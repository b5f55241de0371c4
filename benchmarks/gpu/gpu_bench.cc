// GPU benchmarks, each against cudaMemcpy device-to-device measured in the same run on
// the same card (the `vs_memcpy` counter). Bandwidth counts bytes read plus bytes
// written, as cudaMemcpy's does (a copy of N bytes moves 2N).
//
//   bazel run --config=opt //benchmarks:gpu_bench     (on a machine with a GPU)
//   bash tools/gpu-test.sh                                (builds here, runs there)
//
// Goals (docs/PERFORMANCE.md): KV pack/unpack of 16-64 KiB blocks >= 0.95x memcpy; the
// all-reduce reduction >= 0.9x.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <vector>

#include "benchmarks/gpu/gpu_benchmark_main.h"
#include "fabrics/cluster_factory.h"
#include "transport/gpu/paged_copy.h"
#include "transport/gpu/runtime.h"
#include "transport/workloads/coll/gpu/gpu_reduce.h"
#include "transport/workloads/kv/gpu/kv_pack.h"
#include "transport/workloads/moe/gpu/gpu_moe.h"

namespace ferry {
namespace {

constexpr size_t kBytes = size_t{256} << 20;  // moved per iteration (read side)

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "gpu_bench: %s\n", what.c_str());
  std::exit(1);
}

gpu::DeviceBuffer device(size_t bytes) {
  auto b = gpu::DeviceBuffer::allocate(bytes);
  if (!b.ok()) die(b.error().to_string());
  cudaMemset(b->data(), 0x5a, bytes);
  return std::move(b).value();
}

// Times fn on the GPU with events (the benchmark's manual time) and, beside it in each
// iteration, a cudaMemcpy device-to-device that moves the same bytes (reads plus writes):
// the baseline of the same iteration, so clocks and heat are the same for both. Reports
// the bandwidth (bytes read plus written) and `vs_memcpy`, the ratio of the two.
//
// Fairness: a copy queued ahead of the timed pair keeps the stream busy, so the host's
// launch latency lands in neither timing; the two alternate in order, so neither always
// runs first. BM_MemcpyDeviceToDevice, the baseline against itself, reads 1.00 when the
// pairing is fair.
template <typename Fn>
void time_against_memcpy(benchmark::State& state, double bytes_moved, Fn&& fn) {
  const size_t copy_bytes = static_cast<size_t>(bytes_moved / 2);
  constexpr size_t kLead = size_t{64} << 20;
  gpu::DeviceBuffer from = device(copy_bytes), to = device(copy_bytes), lead = device(2 * kLead);
  auto baseline = [&] { cudaMemcpyAsync(to.data(), from.data(), copy_bytes, cudaMemcpyDeviceToDevice); };
  cudaEvent_t marks[3];
  for (cudaEvent_t& e : marks) cudaEventCreate(&e);
  fn();  // warm up
  cudaDeviceSynchronize();
  double kernel_s = 0, memcpy_s = 0;
  bool kernel_first = true;
  for (auto _ : state) {
    cudaMemcpyAsync(lead.as<char>() + kLead, lead.data(), kLead, cudaMemcpyDeviceToDevice);
    cudaEventRecord(marks[0]);
    kernel_first ? fn() : baseline();
    cudaEventRecord(marks[1]);
    kernel_first ? baseline() : fn();
    cudaEventRecord(marks[2]);
    cudaEventSynchronize(marks[2]);
    float first_ms = 0, second_ms = 0;
    cudaEventElapsedTime(&first_ms, marks[0], marks[1]);
    cudaEventElapsedTime(&second_ms, marks[1], marks[2]);
    const double kernel_ms = kernel_first ? first_ms : second_ms;
    kernel_s += kernel_ms / 1e3;
    memcpy_s += (kernel_first ? second_ms : first_ms) / 1e3;
    state.SetIterationTime(kernel_ms / 1e3);
    kernel_first = !kernel_first;
  }
  for (cudaEvent_t e : marks) cudaEventDestroy(e);
  if (cudaGetLastError() != cudaSuccess) state.SkipWithError("a CUDA call failed");
  const double n = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes_moved * n));
  state.counters["GBps"] = bytes_moved * n / kernel_s / 1e9;
  state.counters["memcpy_GBps"] = 2.0 * copy_bytes * n / memcpy_s / 1e9;
  state.counters["vs_memcpy"] = (bytes_moved / kernel_s) / (2.0 * copy_bytes / memcpy_s);
}

// The baseline against itself: vs_memcpy near 1 says the pairing is fair.
void BM_MemcpyDeviceToDevice(benchmark::State& state) {
  gpu::DeviceBuffer a = device(kBytes), b = device(kBytes);
  time_against_memcpy(state, 2.0 * kBytes,
                      [&] { cudaMemcpyAsync(b.data(), a.data(), kBytes, cudaMemcpyDeviceToDevice); });
}
BENCHMARK(BM_MemcpyDeviceToDevice)->UseManualTime()->Unit(benchmark::kMicrosecond);

// A layout whose blocks are `block_kib` KiB; the pool holds twice the blocks a pack moves,
// and the table picks half of them in shuffled order.
PagedKvLayout kv_layout(uint32_t block_kib) {
  PagedKvLayout l;
  l.layers = 1;
  l.kv_heads = 8;
  l.head_dim = 128;
  l.dtype_bytes = 2;
  l.tp = 1;  // 8 heads: 2 KiB token rows
  l.block_tokens = block_kib / 2;
  l.num_blocks = static_cast<uint32_t>(2 * kBytes / 2 / l.block_bytes());  // K and V halves
  return l;
}

std::vector<uint32_t> shuffled_table(uint32_t blocks, uint32_t pool_blocks) {
  std::vector<uint32_t> all(pool_blocks);
  std::iota(all.begin(), all.end(), 0);
  uint64_t x = 88172645463325252ull;
  for (uint32_t i = pool_blocks - 1; i > 0; --i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::swap(all[i], all[x % (i + 1)]);
  }
  all.resize(blocks);
  return all;
}

void kv_bench(benchmark::State& state, bool pack) {
  const PagedKvLayout l = kv_layout(static_cast<uint32_t>(state.range(0)));
  const uint32_t blocks = l.num_blocks / 2;
  const std::vector<uint32_t> table = shuffled_table(blocks, l.num_blocks);
  gpu::DeviceBuffer pool = device(l.pool_bytes());
  gpu::DeviceBuffer gpu_table = device(table.size() * sizeof(uint32_t));
  cudaMemcpy(gpu_table.data(), table.data(), table.size() * sizeof(uint32_t), cudaMemcpyHostToDevice);
  const kv::gpu::HeadSlice heads = kv::gpu::all_heads(l);
  const uint64_t staged = kv::gpu::packed_bytes(l, blocks, heads);
  gpu::DeviceBuffer staging = device(staged);
  time_against_memcpy(state, 2.0 * staged, [&] {
    const VoidResult r = pack ? kv::gpu::launch_pack(l, pool.data(), 0, gpu_table.as<uint32_t>(), blocks, heads, staging.data())
                              : kv::gpu::launch_unpack(l, pool.data(), 0, gpu_table.as<uint32_t>(), blocks, heads, staging.data());
    if (!r.ok()) die(r.error().to_string());
  });
}

void BM_KvPack(benchmark::State& state) { kv_bench(state, true); }
void BM_KvUnpack(benchmark::State& state) { kv_bench(state, false); }
BENCHMARK(BM_KvPack)->ArgName("block_kib")->Arg(16)->Arg(32)->Arg(64)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_KvUnpack)->ArgName("block_kib")->Arg(16)->Arg(32)->Arg(64)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The gather behind KV pack (shuffled `page_kib` KiB pages of a pool into one contiguous
// buffer) and the scatter behind unpack, run each way the GPU can. The default shape is
// the one that measured fastest.
struct NamedShape {
  const char* name;
  gpu::PagedCopyShape shape;
};
const NamedShape kShapes[] = {
    {"default", {}},
    {"block per page, 128 threads", {0, 128}},
    {"block per page, 256 threads", {0, 256}},
    {"block per page, 512 threads", {0, 512}},
    {"block per page, 1024 threads", {0, 1024}},
    {"8 blocks per SM, 256 threads", {8, 256}},
};

void BM_PagedCopyShape(benchmark::State& state) {
  const uint64_t page_bytes = uint64_t(state.range(0)) << 10;
  const NamedShape& shape = kShapes[state.range(1)];
  const bool scatter = state.range(2) != 0;
  const auto pages = static_cast<uint32_t>(kBytes / page_bytes);
  const std::vector<uint32_t> table = shuffled_table(pages, 2 * pages);
  gpu::DeviceBuffer pool = device(2 * kBytes), packed = device(kBytes);
  gpu::DeviceBuffer gpu_table = device(table.size() * sizeof(uint32_t));
  cudaMemcpy(gpu_table.data(), table.data(), table.size() * sizeof(uint32_t), cudaMemcpyHostToDevice);
  gpu::PagedCopy c;
  c.dst = scatter ? pool.data() : packed.data();
  c.src = scatter ? packed.data() : pool.data();
  (scatter ? c.dst_pages : c.src_pages) = gpu_table.as<uint32_t>();
  c.pages = pages;
  c.dst_page_stride = c.src_page_stride = c.row_bytes = page_bytes;
  time_against_memcpy(state, 2.0 * kBytes, [&] {
    const VoidResult r = gpu::launch_paged_copy(c, nullptr, shape.shape);
    if (!r.ok()) die(r.error().to_string());
  });
  state.SetLabel(shape.name);
}
BENCHMARK(BM_PagedCopyShape)
    ->ArgNames({"page_kib", "shape", "scatter"})
    ->ArgsProduct({{16, 32, 64}, benchmark::CreateDenseRange(0, std::size(kShapes) - 1, 1), {0, 1}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// The all-reduce step: dst = a + b (+ ...), `sources` inputs of kBytes / sources each, so
// every point moves about the same bytes.
void BM_Reduce(benchmark::State& state) {
  const auto dtype = static_cast<coll::DType>(state.range(0));
  const auto sources = static_cast<size_t>(state.range(1));
  const size_t bytes = kBytes / sources;
  std::vector<gpu::DeviceBuffer> inputs;
  std::vector<const void*> ptrs;
  for (size_t s = 0; s < sources; ++s) {
    inputs.push_back(device(bytes));
    ptrs.push_back(inputs.back().data());
  }
  gpu::DeviceBuffer out = device(bytes);
  const size_t count = bytes / coll::element_bytes(dtype);
  time_against_memcpy(state, double(sources + 1) * bytes, [&] {
    const VoidResult r = coll::gpu::launch_reduce(out.data(), ptrs, count, dtype, coll::ReduceOp::kSum);
    if (!r.ok()) die(r.error().to_string());
  });
  state.SetLabel(coll::to_string(dtype));
}
BENCHMARK(BM_Reduce)
    ->ArgNames({"dtype", "sources"})
    ->ArgsProduct({{int(coll::DType::kFloat32), int(coll::DType::kFloat16), int(coll::DType::kBFloat16)}, {2, 8}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

void BM_Fp8Quantize(benchmark::State& state) {
  const uint32_t hidden = 7168, rows = static_cast<uint32_t>(kBytes / 2 / hidden);
  gpu::DeviceBuffer in = device(size_t{rows} * hidden * 2), q = device(size_t{rows} * hidden),
                    scales = device(size_t{rows} * hidden / 128 * 4);
  cudaMemset(in.data(), 0x3c, in.size());
  time_against_memcpy(state, double(in.size() + q.size() + scales.size()), [&] {
    const VoidResult r = moe::gpu::launch_quantize_fp8(in.as<uint16_t>(), q.as<uint8_t>(), scales.as<float>(), rows, hidden);
    if (!r.ok()) die(r.error().to_string());
  });
}
BENCHMARK(BM_Fp8Quantize)->UseManualTime()->Unit(benchmark::kMicrosecond);

void BM_WeightedCombine(benchmark::State& state) {
  const uint32_t hidden = 7168, top_k = 8, tokens = 4096;
  gpu::DeviceBuffer rows = device(size_t{tokens} * top_k * hidden * 2), out = device(size_t{tokens} * hidden * 2);
  std::vector<int32_t> index(size_t{tokens} * top_k);
  std::iota(index.begin(), index.end(), 0);
  std::vector<float> weights(index.size(), 0.125f);
  gpu::DeviceBuffer gpu_index = device(index.size() * 4), gpu_weights = device(weights.size() * 4);
  cudaMemcpy(gpu_index.data(), index.data(), index.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(gpu_weights.data(), weights.data(), weights.size() * 4, cudaMemcpyHostToDevice);
  cudaMemset(rows.data(), 0x3c, rows.size());
  time_against_memcpy(state, double(rows.size() + out.size()), [&] {
    const VoidResult r = moe::gpu::launch_weighted_combine(rows.as<uint16_t>(), gpu_index.as<int32_t>(),
                                                           gpu_weights.as<float>(), tokens, top_k, hidden, out.as<uint16_t>());
    if (!r.ok()) die(r.error().to_string());
  });
}
BENCHMARK(BM_WeightedCombine)->UseManualTime()->Unit(benchmark::kMicrosecond);

// emu moving GPU memory: one write of `bytes` from GPU memory on node 0 into GPU memory
// on node 1, posted and polled to its completion (emu's fast mode: real time), each
// followed by a synchronous cudaMemcpy of the same size: `vs_memcpy` is the ratio of
// their bandwidths, measured side by side.
void BM_EmuWriteGpuToGpu(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  gpu::DeviceBuffer src = device(bytes), dst = device(bytes), spare = device(bytes);
  fabrics::ClusterOptions options;
  options.provider = fabrics::kEmuFast;
  auto cluster = fabrics::make_cluster(options);
  if (!cluster.ok()) die(cluster.error().to_string());
  Device& a = (*cluster)->node(0).device(0);
  Device& b = (*cluster)->node(1).device(0);
  auto pd_a = a.create_protection_domain();
  auto pd_b = b.create_protection_domain();
  auto cq_a = a.create_completion_queue(64);
  auto cq_b = b.create_completion_queue(64);
  if (!pd_a.ok() || !pd_b.ok() || !cq_a.ok() || !cq_b.ok()) die("emu setup");
  const uint32_t all = kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead;
  auto mr_a = (*pd_a)->register_memory(src.data(), bytes, all, MemoryKind::kDevice);
  auto mr_b = (*pd_b)->register_memory(dst.data(), bytes, all, MemoryKind::kDevice);
  if (!mr_a.ok()) die(mr_a.error().to_string());
  if (!mr_b.ok()) die(mr_b.error().to_string());
  EndpointConfig config;
  config.send_cq = config.recv_cq = cq_a->get();
  auto ep_a = (*pd_a)->create_endpoint(config);
  config.send_cq = config.recv_cq = cq_b->get();
  auto ep_b = (*pd_b)->create_endpoint(config);
  if (!ep_a.ok() || !ep_b.ok()) die("emu endpoints");
  if (!(*ep_a)->connect((*ep_b)->address()).ok() || !(*ep_b)->connect((*ep_a)->address()).ok()) die("emu connect");
  Sge sge{reinterpret_cast<uint64_t>(src.data()), static_cast<uint32_t>(bytes), (*mr_a)->lkey()};
  WorkRequest wr;
  wr.opcode = Opcode::kWrite;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.remote_addr = reinterpret_cast<uint64_t>(dst.data());
  wr.rkey = (*mr_b)->rkey();
  Completion c[4];
  using Clock = std::chrono::steady_clock;
  double write_s = 0, memcpy_s = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    if (!(*ep_a)->post_send(std::span<const WorkRequest>(&wr, 1)).ok()) die("post");
    for (;;) {
      auto n = (*cq_a)->poll(c);
      if (!n.ok()) die(n.error().to_string());
      if (*n == 0) continue;
      if (c[0].status != Status::kSuccess) die(std::string("write: ") + to_string(c[0].status));
      break;
    }
    const auto t1 = Clock::now();
    cudaMemcpy(spare.data(), src.data(), bytes, cudaMemcpyDeviceToDevice);
    const auto t2 = Clock::now();
    write_s += std::chrono::duration<double>(t1 - t0).count();
    memcpy_s += std::chrono::duration<double>(t2 - t1).count();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  const double n = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(2 * bytes * n));
  state.counters["memcpy_GBps"] = 2.0 * bytes * n / memcpy_s / 1e9;
  state.counters["vs_memcpy"] = memcpy_s / write_s;
}
BENCHMARK(BM_EmuWriteGpuToGpu)->ArgName("bytes")->RangeMultiplier(4)->Range(64 << 10, 64 << 20)->UseManualTime();

}  // namespace
}  // namespace ferry

int main(int argc, char** argv) { return ferry::benchmarks::run_gpu_benchmarks("gpu_bench", argc, argv); }
