// The emulator's own refusals: deterministic mode checks a request when it arrives,
// and NICs configured without an endpoint kind or RDMA read refuse them. Every
// provider's refusals are the conformance suite's (transport/conformance/).
#include "emu/test_util.h"

namespace ferry::emu::test {
namespace {

// ---------------------------------------------------------------------------------
// Deterministic mode checks a request when it arrives, not when it is posted.

class CheckedOnArrival : public ::testing::TestWithParam<EndpointKind> {};

TEST_P(CheckedOnArrival, RegionDeregisteredWhileInFlight) {
  World w(fabric_config(Mode::kDeterministic));
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  Buffer& doomed_dst = w.buffer(1, 4096);
  Buffer& doomed_src = w.source(0, 4096);

  Pair p = w.pair(GetParam());
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 1000)}, doomed_dst, 0)})));
  doomed_dst.deregister();
  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(has_status(cs[0], p.a, 1, Status::kRemoteAccessError));

  Pair q = w.pair(GetParam());
  ASSERT_TRUE(is_ok(post(q.a, {write_op(2, {doomed_src.sge(0, 1000)}, dst, 0)})));
  doomed_src.deregister();
  cs = w.wait_send(q.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(has_status(cs[0], q.a, 2, Status::kLocalProtectionError));

  w.settle();
  EXPECT_TRUE(doomed_dst.untouched());
  EXPECT_TRUE(dst.untouched());
}

INSTANTIATE_TEST_SUITE_P(Deterministic, CheckedOnArrival,
                         ::testing::Values(EndpointKind::kRc, EndpointKind::kSrd), kind_param_name);

// ---------------------------------------------------------------------------------
// What a device refuses outright

class DeviceRefusals : public ::testing::TestWithParam<Mode> {};

TEST_P(DeviceRefusals, EndpointKindsTheNicLacks) {
  FabricConfig cfg = fabric_config(GetParam());
  NicConfig ordered_only, unordered_only;
  ordered_only.unordered = false;
  unordered_only.ordered = false;
  cfg.nics = {ordered_only, unordered_only};
  World w(cfg);
  EXPECT_FALSE(w.device(0, 0).attributes().unordered);
  EXPECT_FALSE(w.device(0, 1).attributes().ordered);
  for (auto [nic, kind] : {std::pair{0u, EndpointKind::kSrd}, std::pair{1u, EndpointKind::kRc}}) {
    auto cq = w.device(0, nic).create_completion_queue(16);
    ASSERT_TRUE(is_ok(cq));
    EndpointConfig ec = endpoint_config(kind);
    ec.send_cq = cq->get();
    ec.recv_cq = cq->get();
    EXPECT_FALSE(w.pd(0, nic).create_endpoint(ec).ok()) << "nic " << nic;
  }
}

TEST_P(DeviceRefusals, ReadOnANicWithoutReadFailsThePost) {
  FabricConfig cfg = fabric_config(GetParam());
  cfg.nics[0].supports_rdma_read = false;
  World w(cfg);
  EXPECT_FALSE(w.device(0).attributes().supports_rdma_read);
  Pair p = w.pair(EndpointKind::kRc);
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  Buffer& remote = w.source(1, 4096);
  Buffer& local = w.buffer(0, 4096);
  size_t bad_index = 99;
  EXPECT_FALSE(post(p.a, {write_op(1, {src.sge(0, 100)}, dst, 0),
                          read_op(2, {local.sge(0, 100)}, remote, 0),
                          write_op(3, {src.sge(100, 100)}, dst, 100)},
                    &bad_index)
                   .ok());
  EXPECT_EQ(bad_index, 1u);
  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(is_completion(cs[0], p.a, 1, CompletionKind::kWrite));
  EXPECT_TRUE(w.no_completions(p.a));
  EXPECT_TRUE(dst.holds(0, src, 0, 100));
  EXPECT_TRUE(dst.untouched_outside(0, 100));
  EXPECT_TRUE(local.untouched());
}

// A NIC with EFA's constraints: SRD only, two list entries, every work request signalled.
// An unsignalled request or a longer list fails the post where it stands; what came
// before it runs.
TEST_P(DeviceRefusals, EfaConstraintsRefuseWhatEfaRefuses) {
  FabricConfig cfg = fabric_config(GetParam());
  cfg.nics[0].efa_constraints = true;
  World w(cfg);
  EXPECT_FALSE(w.device(0).attributes().ordered);
  EXPECT_EQ(w.device(0).attributes().max_sge, 2u);
  Pair p = w.pair(EndpointKind::kSrd);
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  size_t bad_index = 99;
  const VoidResult unsignalled = post(p.a, {write_op(1, {src.sge(0, 100), src.sge(200, 100)}, dst, 0),
                                            unsignaled(write_op(2, {src.sge(100, 100)}, dst, 100))},
                                      &bad_index);
  ASSERT_FALSE(unsignalled.ok());
  EXPECT_EQ(unsignalled.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(unsignalled.error().message.find("signalled"), std::string::npos) << unsignalled.error().message;
  EXPECT_EQ(bad_index, 1u);
  EXPECT_FALSE(post(p.a, {write_op(3, {src.sge(0, 10), src.sge(10, 10), src.sge(20, 10)}, dst, 0)}).ok());
  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(is_completion(cs[0], p.a, 1, CompletionKind::kWrite));
  EXPECT_TRUE(w.no_completions(p.a));
  EXPECT_TRUE(dst.holds(0, src, 0, 100));
  EXPECT_TRUE(dst.holds(100, src, 200, 100));
  EXPECT_TRUE(dst.untouched_outside(0, 200));
}

INSTANTIATE_TEST_SUITE_P(All, DeviceRefusals,
                         ::testing::Values(Mode::kFast, Mode::kDeterministic), mode_param_name);

}  // namespace
}  // namespace ferry::emu::test
