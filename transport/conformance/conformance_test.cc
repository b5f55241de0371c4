// The conformance suite on every provider variant: each check of checks.h against two
// nodes of a fabric built by fabrics::make_cluster. A check the variant cannot run is
// reported as skipped with its reason, never passed.
//
// Built twice: conformance_test with every buffer in host memory, and (with
// FERRY_CONFORMANCE_GPU) conformance_gpu_test with every buffer in GPU memory, on the
// providers that move GPU memory; the latter skips, saying why, without a GPU.
#include <gtest/gtest.h>

#include <string>
#include <set>
#include <tuple>
#include <vector>

#include "fabrics/cluster_factory.h"
#include "transport/conformance/checks.h"
#include "transport/gpu/runtime.h"

namespace ferry::conformance {
namespace {

struct Variant {
  const char* name;
  fabrics::ClusterOptions options;  // options.kind is also the endpoint kind checked
  bool moves_gpu_memory;            // conformance_gpu_test runs it
};

fabrics::ClusterOptions options(const char* provider, EndpointKind kind) {
  fabrics::ClusterOptions o;
  o.provider = provider;
  o.kind = kind;
  return o;
}

// A new provider adds itself here: one line per endpoint kind it offers.
const Variant kAllVariants[] = {
    {"EmuRc", options("emu", EndpointKind::kRc), true},
    {"EmuSrd", options("emu", EndpointKind::kSrd), true},
    {"EmuFastRc", options("emu-fast", EndpointKind::kRc), true},
    {"EmuFastSrd", options("emu-fast", EndpointKind::kSrd), true},
    {"SimRc", options("sim", EndpointKind::kRc), true},
    {"SimSrd", options("sim", EndpointKind::kSrd), true},
    {"IpcRc", options("ipc", EndpointKind::kRc), true},
    {"TcpRc", options("tcp", EndpointKind::kRc), true},
};

#ifdef FERRY_CONFORMANCE_GPU
constexpr MemoryKind kMemory = MemoryKind::kDevice;
#else
constexpr MemoryKind kMemory = MemoryKind::kHost;
#endif

// This build's variants: every one in host memory, those that move it in GPU memory.
std::vector<Variant> variants() {
  std::vector<Variant> out;
  for (const Variant& v : kAllVariants) {
    if (kMemory == MemoryKind::kHost || v.moves_gpu_memory) out.push_back(v);
  }
  return out;
}

using Param = std::tuple<Variant, Check>;

void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

class Conformance : public ::testing::TestWithParam<Param> {};

TEST_P(Conformance, Holds) {
  const auto& [variant, check] = GetParam();
  if (kMemory == MemoryKind::kDevice) {
    if (auto here = gpu::available(); !here.ok()) GTEST_SKIP() << "needs a GPU: " << here.error().message;
  }
  auto cluster = fabrics::make_cluster(variant.options);
  ASSERT_TRUE(cluster.ok()) << cluster.error().to_string();
  Nodes setup;
  setup.a = &(*cluster)->node(0);
  setup.b = &(*cluster)->node(1);
  setup.cluster = cluster->get();
  setup.kind = variant.options.kind;
  setup.memory = kMemory;
  const Outcome outcome = run(check, setup);
  if (outcome.verdict == Verdict::kSkip) GTEST_SKIP() << outcome.detail;
  EXPECT_EQ(outcome.verdict, Verdict::kPass) << check.name << " (" << check.summary << "): " << outcome.detail;
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  std::string name = std::string(std::get<0>(info.param).name) + "_";
  for (char c : std::get<1>(info.param).name) name += (c == '/' || c == '-') ? '_' : c;
  return name;
}

INSTANTIATE_TEST_SUITE_P(Providers, Conformance,
                         ::testing::Combine(::testing::ValuesIn(variants()), ::testing::ValuesIn(all_checks())),
                         param_name);

// The suite states the whole contract: every status a completion can carry is the
// verdict of some check (kSuccess of all of them).
TEST(ConformanceSuite, NamesAreUniqueAndEveryCheckSaysWhatItChecks) {
  std::set<std::string> names;
  for (const Check& check : all_checks()) {
    EXPECT_TRUE(names.insert(check.name).second) << "two checks named " << check.name;
    EXPECT_FALSE(check.summary.empty()) << check.name;
    EXPECT_EQ(find_check(check.name), &check);
  }
  EXPECT_EQ(find_check("no-such-check"), nullptr);
}

}  // namespace
}  // namespace ferry::conformance
