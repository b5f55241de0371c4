// The main() of every GPU benchmark: without a GPU it says why and exits 0 (the
// benchmark is skipped, not failed); with one it names the card, then runs the benchmarks.
#pragma once

namespace ferry::benchmarks {

// `program` names the binary in the skip line, e.g. "gpu_bench".
int run_gpu_benchmarks(const char* program, int argc, char** argv);

}  // namespace ferry::benchmarks
