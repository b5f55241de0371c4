// workload_peer: a KV migration, two all-reduces and a MoE dispatch + combine between two
// processes over verbs, every byte verified (workload_checks.h). Start rank 0 with
// --listen, then rank 1 with --connect; both print one line per workload.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "hw_tests/peer_link.h"
#include "hw_tests/workload_checks.h"
#include "transport/verbs/verbs_provider.h"

namespace {

constexpr const char* kUsage = R"(usage: workload_peer --rank 0 --listen HOST:PORT [options]
       workload_peer --rank 1 --connect HOST:PORT [options]

Runs a KV-cache migration (rank 0 prefill, rank 1 decode), an all-reduce of float32
and one of bfloat16, and a MoE dispatch + combine between the two ranks, each rank its
own process on the verbs provider, and checks every byte. Prints one line per workload
and exits 0 when all passed on both ranks.

  --device NAME   only RDMA devices whose name contains NAME
  --timeout-s N   engine transfer timeout and longest wait (default 30)
  --help          this text

Exit status: 0 every workload passed, 1 one failed, 2 bad arguments or no device.
)";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "workload_peer: %s (see --help)\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string rank, listen, connect, device;
  uint64_t timeout_s = 30;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (i + 1 >= argc) return usage_error(arg + " needs a value");
    const std::string v = argv[++i];
    if (arg == "--rank") {
      rank = v;
    } else if (arg == "--listen") {
      listen = v;
    } else if (arg == "--connect") {
      connect = v;
    } else if (arg == "--device") {
      device = v;
    } else if (arg == "--timeout-s") {
      timeout_s = std::strtoull(v.c_str(), nullptr, 10);
      if (timeout_s == 0 || timeout_s > 3600) return usage_error("--timeout-s takes 1 to 3600");
    } else {
      return usage_error("unknown option '" + arg + "'");
    }
  }
  if (rank != "0" && rank != "1") return usage_error("--rank takes 0 or 1");
  if (rank == "0" && (listen.empty() || !connect.empty())) return usage_error("rank 0 takes --listen HOST:PORT");
  if (rank == "1" && (connect.empty() || !listen.empty())) return usage_error("rank 1 takes --connect HOST:PORT");

  ferry::verbs::VerbsOptions vo;
  vo.device_filter = device;
  auto provider = ferry::verbs::open_provider(vo);
  if (!provider.ok()) {
    std::fprintf(stderr, "workload_peer: %s\n", provider.error().to_string().c_str());
    return 2;
  }
  const uint64_t wait_ns = 120'000'000'000ull;
  std::unique_ptr<ferry::qualify::PeerLink> link;
  if (rank == "0") {
    auto listener = ferry::qualify::PeerListener::open(listen);
    if (!listener.ok()) return usage_error(listener.error().to_string());
    auto accepted = (*listener)->accept(wait_ns);
    if (!accepted.ok()) {
      std::fprintf(stderr, "workload_peer: %s\n", accepted.error().to_string().c_str());
      return 2;
    }
    link = std::move(accepted).value();
  } else {
    auto connected = ferry::qualify::connect_peer(connect, wait_ns);
    if (!connected.ok()) {
      std::fprintf(stderr, "workload_peer: %s\n", connected.error().to_string().c_str());
      return 2;
    }
    link = std::move(connected).value();
  }
  ferry::qualify::WorkloadOptions options;
  options.timeout_ns = timeout_s * 1'000'000'000ull;
  const auto results = ferry::qualify::run_workloads(**provider, *link, rank == "0" ? 0 : 1, options);
  bool passed = !results.empty();
  for (const auto& r : results) {
    passed &= r.failure.empty();
    std::printf("workload/%-24s %s  %s\n", r.name.c_str(), r.failure.empty() ? "PASS" : "FAIL",
                r.failure.empty() ? r.detail.c_str() : r.failure.c_str());
  }
  std::printf("rank %s: %s\n", rank.c_str(), passed ? "all workloads passed" : "a workload failed");
  return passed ? 0 : 1;
}
