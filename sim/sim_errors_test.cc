// Every refusal comes back as an error completion, on the side the provider guide says,
// with no byte touched; RC moves to the error state and flushes, SRD fails only the
// request. Also: RNR and transport retries, set_error, queue overflow, malformed posts
// and addresses.
#include <cstring>

#include "sim/test_util.h"

namespace ferry::sim::test {
namespace {

class Errors : public ::testing::TestWithParam<Transport> {
 protected:
  SimulationConfig config() const { return sim_config(GetParam()); }
  bool rc() const { return GetParam() == Transport::kRoceRc; }
  EndpointState state_after_error() const { return rc() ? EndpointState::kError : EndpointState::kReady; }
};

TEST_P(Errors, BadLocalKeyFailsLocallyAndMovesNothing) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 8192);
  Buffer& dst = w.buffer(1, 8192);
  Sge bad = src.sge(0, 4096);
  bad.lkey += 1;
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {bad}, dst, 0), write_op(2, {src.sge(0, 4096)}, dst, 0)})));
  auto done = w.wait_send(p.a, 2);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(has_status(done[0], p.a, 1, Status::kLocalProtectionError));
  // RC: the endpoint is in error and the next request flushes; SRD: it runs.
  EXPECT_TRUE(has_status(done[1], p.a, 2, rc() ? Status::kFlushed : Status::kSuccess));
  EXPECT_EQ(p.a->state(), state_after_error());
  if (rc()) {
    EXPECT_TRUE(dst.untouched());
  }
}

TEST_P(Errors, ReadIntoAListWithoutLocalWriteIsALocalProtectionError) {
  World w(config());
  Pair p = w.pair();
  Buffer& remote = w.source(1, 4096);
  Buffer& local = w.buffer(0, 4096, kAccessRemoteRead);  // no local write
  ASSERT_TRUE(is_ok(post(p.a, {read_op(1, {local.sge(0, 4096)}, remote, 0)})));
  auto done = w.wait_send(p.a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(has_status(done[0], p.a, 1, Status::kLocalProtectionError));
  EXPECT_TRUE(local.untouched());
}

TEST_P(Errors, RemoteRefusalsTouchNoMemoryAndConsumeNoRecv) {
  struct Case {
    const char* name;
    std::function<Op(Buffer& src, Buffer& dst, Buffer& read_only, Buffer& other_pd)> op;
  };
  const Case cases[] = {
      {"bad rkey",
       [](Buffer& src, Buffer& dst, Buffer&, Buffer&) {
         Op op = write_imm_op(1, {src.sge(0, 4096)}, dst, 0, 1);
         op.wr.rkey += 1;
         return op;
       }},
      {"no remote write right",
       [](Buffer& src, Buffer&, Buffer& read_only, Buffer&) {
         return write_imm_op(1, {src.sge(0, 4096)}, read_only, 0, 1);
       }},
      {"range past the region",
       [](Buffer& src, Buffer& dst, Buffer&, Buffer&) {
         return write_imm_op(1, {src.sge(0, 4096)}, dst, dst.size() - 100, 1);
       }},
      {"region of another protection domain",
       [](Buffer& src, Buffer&, Buffer&, Buffer& other_pd) {
         return write_imm_op(1, {src.sge(0, 4096)}, other_pd, 0, 1);
       }},
      {"read without remote read right",
       [](Buffer& src, Buffer& dst, Buffer&, Buffer&) { return read_op(1, {src.sge(0, 4096)}, dst, 0); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    World w(config());
    Pair p = w.pair();
    Buffer& src = w.source(0, 4096, kAccessLocalWrite);
    Buffer& dst = w.buffer(1, 8192, kAccessLocalWrite | kAccessRemoteWrite);
    Buffer& read_only = w.buffer(1, 8192, kAccessRemoteRead);
    Buffer& other_pd = w.buffer(1, 8192, kAllAccess, 0, &w.new_pd(1));
    ASSERT_TRUE(is_ok(post_recv(p.b, 9, {})));
    ASSERT_TRUE(is_ok(post(p.a, {c.op(src, dst, read_only, other_pd)})));
    auto done = w.wait_send(p.a);
    ASSERT_EQ(done.size(), 1u);
    EXPECT_TRUE(has_status(done[0], p.a, 1, Status::kRemoteAccessError));
    EXPECT_TRUE(dst.untouched());
    EXPECT_TRUE(read_only.untouched());
    EXPECT_TRUE(other_pd.untouched());
    EXPECT_TRUE(src.holds(0, src, 0, 4096));
    EXPECT_EQ(p.a->state(), state_after_error());
    EXPECT_EQ(p.b->state(), state_after_error());  // RC: the responder too (as the emulator)
    if (!rc()) {
      // The recv is still there: a later write-with-imm takes it.
      ASSERT_TRUE(is_ok(post(p.a, {write_imm_op(2, {src.sge(0, 10)}, dst, 0, 77)})));
      auto landed = w.wait_recv(p.b);
      ASSERT_EQ(landed.size(), 1u);
      EXPECT_TRUE(is_completion(landed[0], p.b, 9, CompletionKind::kRecvWriteWithImm));
    }
  }
}

TEST_P(Errors, ADeregisteredRegionStopsWorkingAtOnce) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  dst.deregister();
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 4096)}, dst, 0)})));
  auto done = w.wait_send(p.a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(has_status(done[0], p.a, 1, Status::kRemoteAccessError));
  EXPECT_TRUE(dst.untouched());
}

TEST_P(Errors, RecvTooShortFailsBothSides) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 10'000);
  Buffer& small = w.buffer(1, 5000);
  ASSERT_TRUE(is_ok(post_recv(p.b, 3, {small.sge(0, 5000)})));
  ASSERT_TRUE(is_ok(post(p.a, {send_op(1, {src.sge(0, 10'000)})})));
  auto sent = w.wait_send(p.a);
  auto landed = w.wait_recv(p.b);
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(landed.size(), 1u);
  EXPECT_TRUE(has_status(sent[0], p.a, 1, Status::kRemoteOperationError));
  EXPECT_TRUE(has_status(landed[0], p.b, 3, Status::kLocalLengthError));
  EXPECT_TRUE(small.untouched());
}

TEST_P(Errors, RecvWithoutLocalWriteFailsTheSend) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 1000);
  Buffer& readonly = w.buffer(1, 1000, kAccessRemoteRead);
  ASSERT_TRUE(is_ok(post_recv(p.b, 3, {readonly.sge(0, 1000)})));
  ASSERT_TRUE(is_ok(post(p.a, {send_op(1, {src.sge(0, 1000)})})));
  auto sent = w.wait_send(p.a);
  auto landed = w.wait_recv(p.b);
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(landed.size(), 1u);
  EXPECT_TRUE(has_status(sent[0], p.a, 1, Status::kRemoteOperationError));
  EXPECT_TRUE(has_status(landed[0], p.b, 3, Status::kLocalProtectionError));
  EXPECT_TRUE(readonly.untouched());
}

TEST_P(Errors, ReceiverNotReadyRetriesThenFailsWithNothingWritten) {
  World w(config());
  EndpointConfig ec = endpoint_config(w.kind());
  ec.rnr_retry = 3;
  Pair p = w.pair(ec);
  Buffer& src = w.source(0, 20'000);
  Buffer& dst = w.buffer(1, 20'000);
  const uint64_t start = w.sim().now_ns();
  ASSERT_TRUE(is_ok(post(p.a, {write_imm_op(1, {src.sge(0, 20'000)}, dst, 0, 5)})));
  auto done = w.wait_send(p.a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(has_status(done[0], p.a, 1, Status::kRnrRetryExceeded));
  EXPECT_GE(w.sim().now_ns() - start, 3 * ec.rnr_timer_ns);
  EXPECT_TRUE(dst.untouched());
  EXPECT_EQ(p.b->state(), EndpointState::kReady);  // the target is unaffected
}

TEST_P(Errors, ReceiverNotReadyForeverWaitsForARecv) {
  World w(config());
  EndpointConfig ec = endpoint_config(w.kind());
  ec.rnr_retry = 7;  // forever
  Pair p = w.pair(ec);
  Buffer& src = w.source(0, 9000);
  Buffer& dst = w.buffer(1, 9000);
  ASSERT_TRUE(is_ok(post(p.a, {send_op(1, {src.sge(0, 9000)})})));
  w.sim().run_until(w.sim().now_ns() + 100 * ec.rnr_timer_ns);  // many retries, no end
  EXPECT_TRUE(dst.untouched());
  ASSERT_TRUE(is_ok(post_recv(p.b, 2, {dst.sge(0, 9000)})));
  auto sent = w.wait_send(p.a);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(is_completion(sent[0], p.a, 1, CompletionKind::kSend));
  EXPECT_TRUE(dst.holds(0, src, 0, 9000));
}

TEST_P(Errors, LinkDownLongEnoughIsRetryExceeded) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 100'000);
  Buffer& dst = w.buffer(1, 100'000);
  w.sim().set_link_up(LinkId::access(1, 0), false);
  const uint64_t start = w.sim().now_ns();
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 100'000)}, dst, 0), write_op(2, {src.sge(0, 10)}, dst, 0)})));
  auto done = w.wait_send(p.a, 2);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(has_status(done[0], p.a, 1, Status::kRetryExceeded));
  const EndpointConfig ec = endpoint_config(w.kind());
  // retry_count retries, each after retry_timeout_ns without an answer.
  EXPECT_GE(w.sim().now_ns() - start, (ec.retry_count + 1) * ec.retry_timeout_ns);
  EXPECT_EQ(p.a->state(), state_after_error());
  if (rc()) {
    EXPECT_TRUE(has_status(done[1], p.a, 2, Status::kFlushed));
  }
  EXPECT_TRUE(dst.untouched());
}

TEST_P(Errors, ALinkBackWithinTheRetriesLetsTheRequestThrough) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 100'000);
  Buffer& dst = w.buffer(1, 100'000);
  w.sim().set_link_up(LinkId::access(0, 0), false);
  w.sim().at(w.sim().now_ns() + 350'000, [&] { w.sim().set_link_up(LinkId::access(0, 0), true); });
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 100'000)}, dst, 0)})));
  auto done = w.wait_send(p.a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(is_completion(done[0], p.a, 1, CompletionKind::kWrite));
  EXPECT_TRUE(dst.holds(0, src, 0, 100'000));
  EXPECT_GT(w.sim().counters().timeouts, 0u);
}

TEST_P(Errors, ADestroyedPeerIsRetryExceeded) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  p.b.endpoint.reset();
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 4096)}, dst, 0)})));
  auto done = w.wait_send(p.a);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(has_status(done[0], p.a, 1, Status::kRetryExceeded));
  EXPECT_TRUE(dst.untouched());
}

TEST_P(Errors, SetErrorFlushesRequestsAndRecvs) {
  World w(config());
  Pair p = w.pair();
  Buffer& src = w.source(0, 1 << 20);
  Buffer& dst = w.buffer(1, 1 << 20);
  ASSERT_TRUE(is_ok(post_recv(p.a, 50, {})));
  ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 1 << 20)}, dst, 0), write_op(2, {src.sge(0, 8)}, dst, 0)})));
  p.a->set_error();
  EXPECT_EQ(p.a->state(), EndpointState::kError);
  auto done = w.wait_send(p.a, 2);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_TRUE(has_status(done[0], p.a, 1, Status::kFlushed));
  EXPECT_TRUE(has_status(done[1], p.a, 2, Status::kFlushed));
  auto recvs = w.wait_recv(p.a);
  ASSERT_EQ(recvs.size(), 1u);
  EXPECT_TRUE(has_status(recvs[0], p.a, 50, Status::kFlushed));
  // Posting is still accepted, and flushes at once.
  ASSERT_TRUE(is_ok(post(p.a, {write_op(3, {src.sge(0, 8)}, dst, 0)})));
  auto later = w.wait_send(p.a);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_TRUE(has_status(later[0], p.a, 3, Status::kFlushed));
}

TEST_P(Errors, CompletionQueueOverflowIsReported) {
  World w(config());
  Pair p = w.pair(endpoint_config(w.kind()), 0, 1, /*cq_depth=*/4);
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  std::vector<Op> ops;
  for (uint64_t i = 0; i < 6; ++i) ops.push_back(write_op(i, {src.sge(0, 64)}, dst, 0));
  ASSERT_TRUE(is_ok(post(p.a, ops)));
  w.settle();
  Completion c[8];
  auto polled = p.a.send_cq->poll(c);
  ASSERT_FALSE(polled.ok());
  EXPECT_EQ(polled.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(p.a->state(), EndpointState::kError);
}

TEST_P(Errors, MalformedPostsFailSynchronously) {
  World w(config());
  Ep& lone = w.endpoint(0, 0, endpoint_config(w.kind()));
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  size_t bad = 99;
  auto early = post(lone, {write_op(1, {src.sge(0, 8)}, dst, 0)}, &bad);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(bad, 0u);

  EndpointConfig small = endpoint_config(w.kind());
  small.max_send_wr = 2;
  Pair p = w.pair(small);
  std::vector<Sge> too_many(w.device(0).attributes().max_sge + 1, src.sge(0, 1));
  auto sges = post(p.a, {write_op(1, {src.sge(0, 8)}, dst, 0), write_op(2, too_many, dst, 0)}, &bad);
  ASSERT_FALSE(sges.ok());
  EXPECT_EQ(sges.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad, 1u);
  WorkRequest null_list;
  null_list.num_sge = 1;
  auto null = p.a->post_send({&null_list, 1}, &bad);
  ASSERT_FALSE(null.ok());
  EXPECT_EQ(null.error().code, ErrorCode::kInvalidArgument);
  auto full = post(p.a, {write_op(3, {src.sge(0, 8)}, dst, 0), write_op(4, {src.sge(0, 8)}, dst, 0)}, &bad);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(bad, 1u);
  // What was posted before the bad request runs.
  auto done = w.wait_send(p.a, 2);
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(cookies_of(done), (std::vector<uint64_t>{1, 3}));
}

TEST_P(Errors, ConnectRefusesBadAddresses) {
  World w(config());
  Ep& a = w.endpoint(0, 0, endpoint_config(w.kind()));
  Ep& b = w.endpoint(1, 0, endpoint_config(w.kind()));
  std::vector<uint8_t> address = b->address();
  auto short_blob = a->connect(std::span<const uint8_t>(address.data(), 8));
  ASSERT_FALSE(short_blob.ok());
  EXPECT_EQ(short_blob.error().code, ErrorCode::kInvalidArgument);
  std::vector<uint8_t> bad_magic = address;
  bad_magic[0] ^= 0xff;
  EXPECT_EQ(a->connect(bad_magic).error().code, ErrorCode::kInvalidArgument);
  std::vector<uint8_t> bad_kind = address;
  bad_kind[5] ^= 1;
  EXPECT_EQ(a->connect(bad_kind).error().code, ErrorCode::kInvalidArgument);
  std::vector<uint8_t> nobody = address;
  const uint32_t missing = 4242;
  std::memcpy(nobody.data() + 8, &missing, 4);
  EXPECT_EQ(a->connect(nobody).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(is_ok(a->connect(address)));
  EXPECT_EQ(a->connect(address).error().code, ErrorCode::kFailedPrecondition);
}

TEST_P(Errors, TheOtherEndpointKindIsUnsupported) {
  World w(config());
  EndpointConfig ec = endpoint_config(rc() ? EndpointKind::kSrd : EndpointKind::kRc);
  auto cq = w.device(0).create_completion_queue(16);
  ASSERT_TRUE(cq.ok());
  ec.send_cq = ec.recv_cq = cq->get();
  auto endpoint = w.pd(0).create_endpoint(ec);
  ASSERT_FALSE(endpoint.ok());
  EXPECT_EQ(endpoint.error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(w.device(0).attributes().ordered, rc());
  EXPECT_EQ(w.device(0).attributes().unordered, !rc());
}

INSTANTIATE_TEST_SUITE_P(Transports, Errors,
                         ::testing::Values(Transport::kRoceRc, Transport::kSrd), transport_param_name);

TEST(Configuration, OutOfBoundsIsRefused) {
  SimulationConfig c;
  c.mtu = 100;
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c = SimulationConfig{};
  c.access_link.loss = 1;
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c = SimulationConfig{};
  c.nics.clear();
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
}

TEST(Configuration, OnlyOneSimulationAtATime) {
  Simulation first(SimulationConfig{});
  EXPECT_THROW(Simulation{SimulationConfig{}}, std::logic_error);
}

}  // namespace
}  // namespace ferry::sim::test
