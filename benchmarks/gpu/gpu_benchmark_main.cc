#include "benchmarks/gpu/gpu_benchmark_main.h"

#include <benchmark/benchmark.h>

#include <cstdio>

#include "transport/gpu/runtime.h"

namespace ferry::benchmarks {

int run_gpu_benchmarks(const char* program, int argc, char** argv) {
  if (auto here = gpu::available(); !here.ok()) {
    std::printf("%s: skipped, needs a GPU: %s\n", program, here.error().message.c_str());
    return 0;
  }
  auto name = gpu::device_name(0);
  std::printf("GPU: %s\n", name.ok() ? name->c_str() : "?");
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace ferry::benchmarks
