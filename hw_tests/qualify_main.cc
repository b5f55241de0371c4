// qualify: the hardware qualification suite as a command.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "emu/fabric.h"
#include "hw_tests/qualify.h"
#include "transport/verbs/verbs_provider.h"

namespace {

constexpr const char* kUsage = R"(usage: qualify [options]

Runs the qualification suite (functional, performance, robustness checks) between
two ends of a link and prints a table; exits 0 when every check passed.

  --provider P        emu (default) or verbs
  --emu-mode M        deterministic (default: virtual time, seeded) or fast
  --emu-nics N        NICs per emulated node (default 2)
  --device NAME       verbs: only devices whose name contains NAME; both ends are
                      the same host, looped back through the NIC
  --only GROUP        run one group: functional, performance or robustness
                      (repeatable; default all)
  --min-bytes N       smallest message of the bandwidth sweep (default 4096)
  --max-bytes N       largest message of the bandwidth sweep (default 67108864);
                      sizes grow by 4 from the smallest
  --bw-total-bytes N  bytes moved per bandwidth point (default 67108864)
  --perf-ops LIST     operations measured: any of write,read,send (default all)
  --thresholds FILE   thresholds file (default: built-in values, as in
                      hw_tests/thresholds.conf)
  --timeout-s N       give up on a completion or transfer after N seconds (default 10)
  --json FILE         also write the report as JSON to FILE
  --help              this text

Exit status: 0 all checks passed (some may not have run, with the reason shown),
1 a check failed, 2 bad arguments or no device.
)";

int fail_usage(const std::string& message) {
  std::fprintf(stderr, "qualify: %s (see --help)\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string provider = "emu", emu_mode = "deterministic", device, json, thresholds_file;
  uint64_t emu_nics = 2;
  ferry::qualify::Options options;
  bool only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    const char* v = value();
    if (v == nullptr) return fail_usage(arg + " needs a value");
    if (arg == "--provider") {
      provider = v;
    } else if (arg == "--emu-mode") {
      emu_mode = v;
    } else if (arg == "--emu-nics") {
      emu_nics = std::strtoull(v, nullptr, 10);
    } else if (arg == "--device") {
      device = v;
    } else if (arg == "--json") {
      json = v;
    } else if (arg == "--thresholds") {
      thresholds_file = v;
    } else if (arg == "--max-bytes") {
      options.max_bytes = std::strtoull(v, nullptr, 10);
    } else if (arg == "--timeout-s") {
      const uint64_t s = std::strtoull(v, nullptr, 10);
      if (s == 0 || s > 3600) return fail_usage("--timeout-s takes 1 to 3600");
      options.timeout_ns = s * 1'000'000'000ull;
    } else if (arg == "--min-bytes") {
      options.min_bytes = std::strtoull(v, nullptr, 10);
    } else if (arg == "--bw-total-bytes") {
      options.bw_total_bytes = std::strtoull(v, nullptr, 10);
    } else if (arg == "--perf-ops") {
      const std::string ops = std::string(",") + v + ",";
      options.perf_write = ops.find(",write,") != std::string::npos;
      options.perf_read = ops.find(",read,") != std::string::npos;
      options.perf_send = ops.find(",send,") != std::string::npos;
      if (!options.perf_write && !options.perf_read && !options.perf_send) {
        return fail_usage("--perf-ops takes a comma-separated list of write, read, send");
      }
    } else if (arg == "--only") {
      if (!only) options.functional = options.performance = options.robustness = false;
      only = true;
      const std::string g = v;
      if (g == "functional") {
        options.functional = true;
      } else if (g == "performance") {
        options.performance = true;
      } else if (g == "robustness") {
        options.robustness = true;
      } else {
        return fail_usage("--only takes functional, performance or robustness, not '" + g + "'");
      }
    } else {
      return fail_usage("unknown option '" + arg + "'");
    }
  }
  if (options.min_bytes < 8 || options.max_bytes < options.min_bytes || options.max_bytes > (1ull << 31)) {
    return fail_usage("--min-bytes/--max-bytes must satisfy 8 <= min <= max <= 2147483648");
  }
  if (!thresholds_file.empty()) {
    auto t = ferry::qualify::Thresholds::load(thresholds_file);
    if (!t.ok()) return fail_usage(t.error().message);
    options.thresholds = *t;
  }

  std::unique_ptr<ferry::emu::Fabric> fabric;
  std::unique_ptr<ferry::Provider> a, b;
  ferry::Provider* ends[2] = {nullptr, nullptr};
  if (provider == "emu") {
    if (emu_mode != "deterministic" && emu_mode != "fast") return fail_usage("--emu-mode takes deterministic or fast");
    if (emu_nics < 1 || emu_nics > 8) return fail_usage("--emu-nics takes 1 to 8");
    ferry::emu::FabricConfig config;
    config.mode = emu_mode == "fast" ? ferry::emu::Mode::kFast : ferry::emu::Mode::kDeterministic;
    config.nics.assign(emu_nics, ferry::emu::NicConfig{});
    fabric = std::make_unique<ferry::emu::Fabric>(config);
    ends[0] = &fabric->node(0);
    ends[1] = &fabric->node(1);
  } else if (provider == "verbs") {
    ferry::verbs::VerbsOptions vo;
    vo.device_filter = device;
    auto pa = ferry::verbs::open_provider(vo);
    auto pb = ferry::verbs::open_provider(vo);
    if (!pa.ok()) {
      std::fprintf(stderr, "qualify: %s\n", pa.error().to_string().c_str());
      return 2;
    }
    if (!pb.ok()) {
      std::fprintf(stderr, "qualify: %s\n", pb.error().to_string().c_str());
      return 2;
    }
    a = std::move(pa).value();
    b = std::move(pb).value();
    ends[0] = a.get();
    ends[1] = b.get();
  } else {
    return fail_usage("--provider takes emu or verbs, not '" + provider + "'");
  }

  const ferry::qualify::Report report = ferry::qualify::run(*ends[0], *ends[1], options);
  std::fputs(report.table().c_str(), stdout);
  if (!json.empty()) {
    std::ofstream out(json);
    out << report.json();
    if (!out) {
      std::fprintf(stderr, "qualify: cannot write %s\n", json.c_str());
      return 2;
    }
  }
  return report.passed() ? 0 : 1;
}
