// The two-process workloads with both ranks in this process, each on its own thread and
// its own node of emu's fast mode, meeting over a loopback TCP link as two processes
// would.
#include "hw_tests/workload_checks.h"

#include <gtest/gtest.h>

#include <thread>

#include "emu/fabric.h"

namespace ferry::qualify {
namespace {

constexpr uint64_t kWaitNs = 30'000'000'000ull;

TEST(WorkloadChecks, KvAllReduceAndMoePassOnBothRanks) {
  emu::FabricConfig config;
  config.mode = emu::Mode::kFast;
  config.nics.assign(2, emu::NicConfig{});
  emu::Fabric fabric(config);
  auto listener = PeerListener::open("127.0.0.1:0");
  ASSERT_TRUE(listener.ok());
  WorkloadOptions options;
  options.timeout_ns = 10'000'000'000ull;
  std::vector<WorkloadResult> rank0;
  std::thread first([&] {
    auto link = (*listener)->accept(kWaitNs);
    if (link.ok()) rank0 = run_workloads(fabric.node(0), **link, 0, options);
  });
  auto link = connect_peer("127.0.0.1:" + std::to_string((*listener)->port()), kWaitNs);
  ASSERT_TRUE(link.ok());
  const std::vector<WorkloadResult> rank1 = run_workloads(fabric.node(1), **link, 1, options);
  first.join();
  ASSERT_EQ(rank0.size(), 4u);
  ASSERT_EQ(rank1.size(), 4u);
  const char* names[] = {"kv-migration", "all-reduce/float", "all-reduce/bfloat16", "moe-dispatch-combine"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(rank0[i].name, names[i]);
    EXPECT_EQ(rank1[i].name, names[i]);
    EXPECT_EQ(rank0[i].failure, "") << names[i];
    EXPECT_EQ(rank1[i].failure, "") << names[i];
  }
}

}  // namespace
}  // namespace ferry::qualify
