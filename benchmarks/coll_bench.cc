// The nccl-tests table for the collectives on emu (sweep.h says what it measures).
//
//   bazel run --config=opt //benchmarks:coll_bench -- --help
//
// The same sweep as `ferry bench`. Exits 1 if any element is wrong or a call fails, 2 on
// a bad argument.
#include <cstdio>
#include <string>
#include <string_view>

#include "benchmarks/coll_sweep.h"

namespace {

void print_usage() {
  std::printf("usage: coll_bench [options]\n");
  for (const auto& flag : ferry::coll::kSweepFlags) {
    std::printf("  %s %s\n      %s\n", flag.name, flag.value_name, flag.help);
  }
  std::printf("  --help\n      this text\n");
  std::printf(
      "Sizes double from min to max. size and count are nccl-tests': the whole message for\n"
      "all-reduce, broadcast and send/recv; the whole gathered/scattered/exchanged buffer of\n"
      "one rank for all-gather, reduce-scatter and all-to-all.\n");
}

}  // namespace

int main(int argc, char** argv) {
  ferry::coll::SweepOptions options;
  auto bad = [](const std::string& what) {
    std::fprintf(stderr, "coll_bench: %s (try --help)\n", what.c_str());
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      print_usage();
      return 0;
    }
    std::string_view value;
    if (const size_t eq = flag.find('='); eq != std::string_view::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return bad("missing value for " + std::string(flag));
    }
    if (ferry::VoidResult set = ferry::coll::set_sweep_option(flag, value, options); !set.ok()) {
      return bad(set.error().message);
    }
  }
  if (ferry::VoidResult finished = ferry::coll::finish_sweep_options(options); !finished.ok()) {
    return bad(finished.error().message);
  }
  return ferry::coll::run_sweep(options);
}
