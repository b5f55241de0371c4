// Refused requests. Access problems come back as error completions with the verbs
// status and never touch a byte; malformed requests and bad addresses fail the call.
// After an error, RC endpoints go to the error state and flush; SRD endpoints go on.
#include <tuple>

#include "emu/test_util.h"

namespace ferry::emu::test {
namespace {

// ---------------------------------------------------------------------------------
// One refused request, as a table of cases run in every mode and kind.

struct Scenario {
  World& w;
  Pair p;
  Buffer& src;         // initiator, source pattern
  Buffer& dst;         // target, canary, every right
  Buffer& remote_src;  // target, source pattern, every right
  Buffer& local_dst;   // initiator, canary, every right
};

struct Refusal {
  Op op;
  std::vector<const Buffer*> untouched;  // still all canary afterwards
  std::vector<const Buffer*> intact;     // still their source pattern afterwards
};

struct RefusalCase {
  const char* name;
  Status status;
  bool remote;  // refused by the target: SRD endpoints stay ready
  Refusal (*make)(Scenario&);
};

constexpr uint64_t kRefused = 10;
constexpr uint32_t kKeyFlip = 0x00ABCD00;  // turns a key into one nobody holds

const RefusalCase kRefusalCases[] = {
    {"WrongRkey", Status::kRemoteAccessError, true,
     [](Scenario& s) {
       Op op = write_op(kRefused, {s.src.sge(0, 256)}, s.dst, 0);
       op.wr.rkey ^= kKeyFlip;
       return Refusal{op, {&s.dst}, {&s.src}};
     }},
    {"StaleRkey", Status::kRemoteAccessError, true,
     [](Scenario& s) {
       Buffer& gone = s.w.buffer(1, 4096);
       gone.deregister();
       return Refusal{write_op(kRefused, {s.src.sge(0, 256)}, gone, 0), {&gone}, {&s.src}};
     }},
    {"RemoteRangeOnePastTheEnd", Status::kRemoteAccessError, true,
     [](Scenario& s) {
       return Refusal{write_op(kRefused, {s.src.sge(0, 64)}, s.dst, s.dst.size() - 63),
                      {&s.dst}, {&s.src}};
     }},
    {"RemoteRangeBeforeTheStart", Status::kRemoteAccessError, true,
     [](Scenario& s) {
       Op op = write_op(kRefused, {s.src.sge(0, 64)}, s.dst, 0);
       op.wr.remote_addr -= 1;
       return Refusal{op, {&s.dst}, {&s.src}};
     }},
    {"ReadRangeOnePastTheEnd", Status::kRemoteAccessError, true,
     [](Scenario& s) {
       return Refusal{read_op(kRefused, {s.local_dst.sge(0, 64)}, s.remote_src,
                              s.remote_src.size() - 63),
                      {&s.local_dst}, {&s.remote_src}};
     }},
    {"NoRemoteWriteRight", Status::kRemoteAccessError, true,
     [](Scenario& s) {
       Buffer& ro = s.w.buffer(1, 4096, kAccessLocalWrite | kAccessRemoteRead);
       return Refusal{write_op(kRefused, {s.src.sge(0, 256)}, ro, 0), {&ro}, {&s.src}};
     }},
    {"NoRemoteReadRight", Status::kRemoteAccessError, true,
     [](Scenario& s) {
       Buffer& wo = s.w.source(1, 4096, kAccessLocalWrite | kAccessRemoteWrite);
       return Refusal{read_op(kRefused, {s.local_dst.sge(0, 256)}, wo, 0), {&s.local_dst},
                      {&wo}};
     }},
    {"RkeyOfAnotherProtectionDomain", Status::kRemoteAccessError, true,
     [](Scenario& s) {
       Buffer& other = s.w.buffer(1, 4096, kAllAccess, 0, &s.w.new_pd(1));
       return Refusal{write_op(kRefused, {s.src.sge(0, 256)}, other, 0), {&other}, {&s.src}};
     }},
    {"BadLkey", Status::kLocalProtectionError, false,
     [](Scenario& s) {
       Sge sge = s.src.sge(0, 256);
       sge.lkey ^= kKeyFlip;
       return Refusal{write_op(kRefused, {sge}, s.dst, 0), {&s.dst}, {&s.src}};
     }},
    {"LocalRangeOnePastTheEnd", Status::kLocalProtectionError, false,
     [](Scenario& s) {
       return Refusal{write_op(kRefused, {s.src.sge(s.src.size() - 63, 64)}, s.dst, 0),
                      {&s.dst}, {&s.src}};
     }},
    {"LocalRangeOnePastTheEndInALaterSge", Status::kLocalProtectionError, false,
     [](Scenario& s) {
       return Refusal{write_op(kRefused, {s.src.sge(0, 128), s.src.sge(s.src.size() - 1, 2)},
                               s.dst, 0),
                      {&s.dst}, {&s.src}};
     }},
    {"ReadIntoRegionWithoutLocalWrite", Status::kLocalProtectionError, false,
     [](Scenario& s) {
       // Remote write would need local write too (as in verbs): remote read only.
       Buffer& no_local_write = s.w.buffer(0, 4096, kAccessRemoteRead);
       return Refusal{read_op(kRefused, {no_local_write.sge(0, 256)}, s.remote_src, 0),
                      {&no_local_write}, {&s.remote_src}};
     }},
};

void PrintTo(const RefusalCase& c, std::ostream* os) { *os << c.name; }

using RefusalParam = std::tuple<ModeKind, RefusalCase>;

class Refusals : public ::testing::TestWithParam<RefusalParam> {
 protected:
  const ModeKind& mode_kind() const { return std::get<0>(GetParam()); }
  const RefusalCase& refusal() const { return std::get<1>(GetParam()); }
  bool rc() const { return mode_kind().kind == EndpointKind::kRc; }
};

TEST_P(Refusals, ErrorCompletionAndNoByteTouched) {
  World w(fabric_config(mode_kind().mode));
  Pair p = w.pair(mode_kind().kind);
  Scenario s{w, p, w.source(0, 8192), w.buffer(1, 4096), w.source(1, 4096), w.buffer(0, 4096)};
  Buffer& parked = w.buffer(0, 256);  // a recv posted at the initiator
  Buffer& after = w.buffer(1, 4096);  // what a request after the error aims at
  constexpr uint64_t kParked = 70, kAfter = 11;
  ASSERT_TRUE(is_ok(post_recv(p.a, kParked, {parked.sge(0, 256)})));

  Refusal r = refusal().make(s);
  ASSERT_TRUE(is_ok(post(p.a, {r.op})));
  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(has_status(cs[0], p.a, kRefused, refusal().status));
  const EndpointState state = p.a->state();
  w.settle();
  for (const Buffer* b : r.untouched) EXPECT_TRUE(b->untouched());
  for (const Buffer* b : r.intact) EXPECT_TRUE(b->intact_source());
  EXPECT_TRUE(w.no_completions(p.b));

  // What follows the error.
  ASSERT_TRUE(is_ok(post(p.a, {write_op(kAfter, {s.src.sge(0, 512)}, after, 0)})));
  if (rc()) {
    EXPECT_EQ(state, EndpointState::kError);
    auto next = w.wait_send(p.a, 1);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_TRUE(has_status(next[0], p.a, kAfter, Status::kFlushed));
    auto flushed = w.wait_recv(p.a, 1);
    ASSERT_EQ(flushed.size(), 1u);
    EXPECT_TRUE(has_status(flushed[0], p.a, kParked, Status::kFlushed));
    EXPECT_TRUE(after.untouched());
  } else if (refusal().remote) {
    EXPECT_EQ(state, EndpointState::kReady);
    auto next = w.wait_send(p.a, 1);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_TRUE(is_completion(next[0], p.a, kAfter, CompletionKind::kWrite));
    EXPECT_TRUE(after.holds(0, s.src, 0, 512));
    EXPECT_TRUE(after.untouched_outside(0, 512));
    EXPECT_TRUE(w.no_completions(p.a));  // the parked recv stays posted
  }
  EXPECT_TRUE(parked.untouched());
}

std::string refusal_name(const ::testing::TestParamInfo<RefusalParam>& info) {
  const ModeKind& mk = std::get<0>(info.param);
  return std::string(mode_name(mk.mode)) + "_" + kind_name(mk.kind) + "_" +
         std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(All, Refusals,
                         ::testing::Combine(::testing::ValuesIn(all_mode_kinds()),
                                            ::testing::ValuesIn(kRefusalCases)),
                         refusal_name);

// ---------------------------------------------------------------------------------
// Errors in context

class Errors : public ModeKindTest {};

TEST_P(Errors, UnsignaledErrorStillCompletes) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  Op op = unsignaled(write_op(5, {src.sge(0, 100)}, dst, 0));
  op.wr.rkey ^= kKeyFlip;
  ASSERT_TRUE(is_ok(post(p.a, {op})));
  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(has_status(cs[0], p.a, 5, Status::kRemoteAccessError));
  EXPECT_TRUE(dst.untouched());
}

// An error in the middle of a batch: RC stops there and flushes the rest; SRD
// completes the others. Once refused by the target, once by the initiator itself.
TEST_P(Errors, ErrorInTheMiddleOfABatch) {
  for (Status refusal : {Status::kRemoteAccessError, Status::kLocalProtectionError}) {
    SCOPED_TRACE(to_string(refusal));
    World w(config());
    Pair p = w.pair(kind());
    Buffer& src = w.source(0, 4096);
    Buffer& dst = w.buffer(1, 4096);
    Op bad = write_op(2, {src.sge(1000, 1000)}, dst, 1000);
    if (refusal == Status::kRemoteAccessError) {
      bad.wr.rkey ^= kKeyFlip;
    } else {
      bad.sges[0].lkey ^= kKeyFlip;
    }
    ASSERT_TRUE(is_ok(post(p.a, {write_op(1, {src.sge(0, 1000)}, dst, 0), bad,
                                 write_op(3, {src.sge(2000, 1000)}, dst, 2000),
                                 write_op(4, {src.sge(3000, 1000)}, dst, 3000)})));
    auto cs = w.wait_send(p.a, 4);
    ASSERT_EQ(cs.size(), 4u);
    w.settle();
    if (rc()) {
      EXPECT_EQ(cookies_of(cs), iota(1, 4));
      EXPECT_TRUE(is_completion(cs[0], p.a, 1, CompletionKind::kWrite));
      EXPECT_TRUE(has_status(cs[1], p.a, 2, refusal));
      EXPECT_TRUE(has_status(cs[2], p.a, 3, Status::kFlushed));
      EXPECT_TRUE(has_status(cs[3], p.a, 4, Status::kFlushed));
      EXPECT_EQ(p.a->state(), EndpointState::kError);
      EXPECT_TRUE(dst.holds(0, src, 0, 1000));
      EXPECT_TRUE(dst.untouched_outside(0, 1000));
    } else {
      ASSERT_EQ(sorted(cookies_of(cs)), iota(1, 4));
      for (uint64_t cookie : {1, 3, 4}) {
        EXPECT_TRUE(is_completion(*find_cookie(cs, cookie), p.a, cookie, CompletionKind::kWrite));
      }
      EXPECT_TRUE(has_status(*find_cookie(cs, 2), p.a, 2, refusal));
      if (refusal == Status::kRemoteAccessError) {
        EXPECT_EQ(p.a->state(), EndpointState::kReady);
      }
      EXPECT_TRUE(dst.holds(0, src, 0, 1000));
      EXPECT_TRUE(dst.holds(2000, src, 2000, 2000));
      EXPECT_TRUE(dst.untouched_outside({{0, 1000}, {2000, 2000}}));
    }
  }
}

TEST_P(Errors, SendLargerThanTheRecv) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& src = w.source(0, 4096);
  Buffer& recv_buf = w.buffer(1, 4096);
  ASSERT_TRUE(is_ok(post_recv(p.b, 50, {recv_buf.sge(0, 40), recv_buf.sge(1000, 24)})));

  ASSERT_TRUE(is_ok(post(p.a, {send_op(6, {src.sge(0, 65)})})));

  auto cs = w.wait_send(p.a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(has_status(cs[0], p.a, 6, Status::kRemoteInvalidRequest));
  auto got = w.wait_recv(p.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(has_status(got[0], p.b, 50, Status::kLocalLengthError));
  EXPECT_TRUE(recv_buf.untouched());
  EXPECT_EQ(p.a->state(), rc() ? EndpointState::kError : EndpointState::kReady);
}

TEST_P(Errors, TooManySgesFailsThePost) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  const uint32_t max_sge = w.device(0).attributes().max_sge;
  for (uint32_t n : {max_sge + 1, 64u}) {
    SCOPED_TRACE(std::to_string(n) + " sges");
    Buffer& first = w.buffer(1, 256);
    std::vector<Sge> list;
    for (uint32_t i = 0; i < n; ++i) list.push_back(src.sge(i, 1));
    size_t bad_index = 99;
    EXPECT_FALSE(post(p.a, {write_op(1, {src.sge(0, 256)}, first, 0),
                            write_op(2, list, dst, 0),
                            write_op(3, {src.sge(0, 256)}, dst, 1024)},
                      &bad_index)
                     .ok());
    EXPECT_EQ(bad_index, 1u);
    // The request before the bad one was posted; those from it on were not.
    auto cs = w.wait_send(p.a, 1);
    ASSERT_EQ(cs.size(), 1u);
    EXPECT_TRUE(is_completion(cs[0], p.a, 1, CompletionKind::kWrite));
    EXPECT_TRUE(first.holds(0, src, 0, 256));
    EXPECT_TRUE(w.no_completions(p.a));
    EXPECT_TRUE(dst.untouched());
    EXPECT_EQ(p.a->state(), EndpointState::kReady);
  }
  // Recvs too: the good one before the bad one is posted and takes the next send.
  Buffer& recv_buf = w.buffer(1, 4096);
  std::vector<Sge> good = {recv_buf.sge(0, 4096)};
  std::vector<Sge> too_many(max_sge + 1, recv_buf.sge(0, 1));
  const RecvRequest recvs[] = {{20, good.data(), 1},
                               {21, too_many.data(), static_cast<uint32_t>(too_many.size())}};
  size_t bad_index = 99;
  EXPECT_FALSE(p.b->post_recv(recvs, &bad_index).ok());
  EXPECT_EQ(bad_index, 1u);
  ASSERT_TRUE(is_ok(post(p.a, {send_op(30, {src.sge(0, 300)})})));
  auto got = w.wait_recv(p.b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(is_completion(got[0], p.b, 20, CompletionKind::kRecv));
  EXPECT_TRUE(recv_buf.holds(0, src, 0, 300));
  EXPECT_TRUE(recv_buf.untouched_outside(0, 300));
}

// Sends with no recv at the target stay outstanding (receiver-not-ready, retried
// forever), which fills the send queue in both modes.
TEST_P(Errors, FullSendQueueFailsThePost) {
  World w(config());
  PairSpec spec = pair_spec(kind());
  spec.config.max_send_wr = 4;
  Pair p = w.pair(spec);
  Buffer& src = w.source(0, 4096);
  Buffer& recv_buf = w.buffer(1, 4 * 512);
  auto send = [&](uint64_t i) { return send_op(i, {src.sge(i * 256, 100 + i)}); };

  size_t bad_index = 99;
  auto r = post(p.a, {send(0), send(1), send(2), send(3), send(4)}, &bad_index);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted) << describe(r.error());
  EXPECT_EQ(bad_index, 4u);
  w.advance(10'000);
  r = post(p.a, {send(5)}, &bad_index);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted) << describe(r.error());
  EXPECT_EQ(bad_index, 0u);

  // The four posted ones go through once recvs are there.
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(is_ok(post_recv(p.b, 100 + i, {recv_buf.sge(i * 512, 512)})));
  }
  auto sent = w.wait_send(p.a, 4);
  ASSERT_EQ(sent.size(), 4u);
  if (rc()) {
    EXPECT_EQ(cookies_of(sent), iota(0, 4));
  }
  EXPECT_EQ(sorted(cookies_of(sent)), iota(0, 4));
  for (const Completion& c : sent) EXPECT_TRUE(is_completion(c, p.a, c.cookie, CompletionKind::kSend));
  auto got = w.wait_recv(p.b, 4);
  ASSERT_EQ(got.size(), 4u);
  for (const Completion& c : got) {
    ASSERT_TRUE(is_completion(c, p.b, c.cookie, CompletionKind::kRecv));
    ASSERT_GE(c.byte_len, 100u);
    const uint64_t i = c.byte_len - 100;  // which send landed here
    const uint64_t slot = c.cookie - 100;
    if (rc()) {
      EXPECT_EQ(i, slot);
    }
    EXPECT_TRUE(recv_buf.holds(slot * 512, src, i * 256, 100 + i));
    EXPECT_TRUE(recv_buf.untouched(slot * 512 + 100 + i, 512 - 100 - i));
  }
  // The slots are free again.
  EXPECT_TRUE(is_ok(post(p.a, {write_op(9, {src.sge(0, 8)}, recv_buf, 0)})));
  EXPECT_EQ(w.wait_send(p.a, 1).size(), 1u);
}

TEST_P(Errors, FullRecvQueueFailsThePost) {
  World w(config());
  PairSpec spec = pair_spec(kind());
  spec.config.max_recv_wr = 4;
  Pair p = w.pair(spec);
  Buffer& src = w.source(0, 4096);
  Buffer& recv_buf = w.buffer(1, 5 * 512);
  std::vector<std::vector<Sge>> lists;
  for (size_t i = 0; i < 5; ++i) lists.push_back({recv_buf.sge(i * 512, 512)});
  std::vector<RecvRequest> recvs;
  for (size_t i = 0; i < 5; ++i) recvs.push_back({100 + i, lists[i].data(), 1});
  size_t bad_index = 99;
  auto r = p.b->post_recv(recvs, &bad_index);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted) << describe(r.error());
  EXPECT_EQ(bad_index, 4u);
  // The four posted take four sends; the fifth slot never received anything.
  std::vector<Op> sends;
  for (uint64_t i = 0; i < 4; ++i) sends.push_back(send_op(i, {src.sge(i * 512, 512)}));
  ASSERT_TRUE(is_ok(post(p.a, sends)));
  auto got = w.wait_recv(p.b, 4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(sorted(cookies_of(got)), iota(100, 4));
  EXPECT_TRUE(recv_buf.untouched(4 * 512, 512));
  EXPECT_EQ(w.wait_send(p.a, 4).size(), 4u);
}

TEST_P(Errors, PostBeforeConnectFails) {
  World w(config());
  Ep& a = w.endpoint(0, 0, endpoint_config(kind()));
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  EXPECT_EQ(a->state(), EndpointState::kInit);
  EXPECT_FALSE(post(a, {write_op(1, {src.sge(0, 64)}, dst, 0)}).ok());
  EXPECT_FALSE(post(a, {send_op(2, {src.sge(0, 64)})}).ok());
  // Receives too: verbs refuses them on a queue pair still in its reset state.
  EXPECT_FALSE(post_recv(a, 3, {dst.sge(0, 64)}).ok());
  EXPECT_TRUE(w.no_completions(a));
  EXPECT_TRUE(dst.untouched());
}

TEST_P(Errors, MalformedAddressIsRefused) {
  World w(config());
  Ep& a = w.endpoint(0, 0, endpoint_config(kind()));
  Ep& b = w.endpoint(1, 0, endpoint_config(kind()));
  const std::vector<uint8_t> good = b->address();
  ASSERT_FALSE(good.empty());
  std::vector<uint8_t> garbage(good.size());
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = pattern_byte(0xBAD, i);
  std::vector<uint8_t> longer = good;
  longer.push_back(0x5A);
  std::vector<uint8_t> big(1024);
  for (size_t i = 0; i < big.size(); ++i) big[i] = pattern_byte(0xB16, i);
  const std::pair<const char*, std::vector<uint8_t>> blobs[] = {
      {"empty", {}},
      {"truncated", std::vector<uint8_t>(good.begin(), good.end() - 1)},
      {"one byte longer", longer},
      {"all 0xff", std::vector<uint8_t>(good.size(), 0xFF)},
      {"garbage of the right size", garbage},
      {"1 KiB of garbage", big},
  };
  for (const auto& [what, blob] : blobs) {
    EXPECT_FALSE(a->connect(blob).ok()) << what;
    EXPECT_EQ(a->state(), EndpointState::kInit) << what;
  }
  // The endpoint is still usable.
  World::connect(a, b);
  Buffer& src = w.source(0, 256);
  Buffer& dst = w.buffer(1, 256);
  ASSERT_TRUE(is_ok(post(a, {write_op(1, {src.sge(0, 256)}, dst, 0)})));
  auto cs = w.wait_send(a, 1);
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_TRUE(is_completion(cs[0], a, 1, CompletionKind::kWrite));
  EXPECT_TRUE(dst.holds(0, src, 0, 256));
}

TEST_P(Errors, AddressOfTheOtherKindIsRefused) {
  World w(config());
  const EndpointKind other = rc() ? EndpointKind::kSrd : EndpointKind::kRc;
  Ep& a = w.endpoint(0, 0, endpoint_config(kind()));
  Ep& b = w.endpoint(1, 0, endpoint_config(other));
  EXPECT_FALSE(a->connect(b->address()).ok());
  EXPECT_EQ(a->state(), EndpointState::kInit);
}

TEST_P(Errors, CompletionQueueOverflowIsReported) {
  World w(config());
  PairSpec spec = pair_spec(kind());
  spec.cq_depth = 4;
  Pair p = w.pair(spec);
  const size_t count = std::max<size_t>(8, 2 * p.a.send_cq->depth());
  Buffer& src = w.source(0, 64 * count);
  Buffer& dst = w.buffer(1, 64 * count);
  std::vector<Op> ops;
  for (size_t i = 0; i < count; ++i) ops.push_back(write_op(i, {src.sge(i * 64, 64)}, dst, i * 64));
  ASSERT_TRUE(is_ok(post(p.a, ops)));
  w.settle();
  std::vector<Completion> out(2 * count);
  EXPECT_FALSE(p.a.send_cq->poll(out).ok());
  EXPECT_FALSE(p.a.send_cq->poll(out).ok()) << "the overflow must stay reported";
  EXPECT_EQ(p.a->state(), EndpointState::kError);
}

TEST_P(Errors, SetErrorFlushesOutstandingAndLaterRequests) {
  World w(config());
  Pair p = w.pair(kind());
  Buffer& src = w.source(0, 4096);
  Buffer& dst = w.buffer(1, 4096);
  Buffer& parked = w.buffer(0, 256);
  Buffer& late_recv = w.buffer(1, 4096);
  ASSERT_TRUE(is_ok(post_recv(p.a, 70, {parked.sge(0, 256)})));
  // No recv at the target: the send stays outstanding, retried forever.
  ASSERT_TRUE(is_ok(post(p.a, {send_op(1, {src.sge(0, 100)})})));
  w.advance(20'000);
  Completion early;
  auto early_count = p.a.send_cq->poll(std::span<Completion>(&early, 1));
  ASSERT_TRUE(is_ok(early_count));
  ASSERT_EQ(*early_count, 0u) << ::testing::PrintToString(early);

  p.a->set_error();
  EXPECT_EQ(p.a->state(), EndpointState::kError);
  auto flushed = w.wait_send(p.a, 1);
  ASSERT_EQ(flushed.size(), 1u);
  EXPECT_TRUE(has_status(flushed[0], p.a, 1, Status::kFlushed));
  auto flushed_recv = w.wait_recv(p.a, 1);
  ASSERT_EQ(flushed_recv.size(), 1u);
  EXPECT_TRUE(has_status(flushed_recv[0], p.a, 70, Status::kFlushed));

  ASSERT_TRUE(is_ok(post(p.a, {write_op(2, {src.sge(0, 512)}, dst, 0)})));
  auto later = w.wait_send(p.a, 1);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_TRUE(has_status(later[0], p.a, 2, Status::kFlushed));

  // A recv posted now at the target receives nothing: the send never went.
  ASSERT_TRUE(is_ok(post_recv(p.b, 80, {late_recv.sge(0, 4096)})));
  EXPECT_TRUE(w.no_completions(p.a));
  w.settle();
  Completion at_target;
  auto polled = p.b.recv_cq->poll(std::span<Completion>(&at_target, 1));
  ASSERT_TRUE(is_ok(polled));
  if (*polled == 1) {
    EXPECT_NE(at_target.status, Status::kSuccess) << "the flushed send landed";
  }
  EXPECT_TRUE(late_recv.untouched());
  EXPECT_TRUE(dst.untouched());
  EXPECT_TRUE(parked.untouched());
}

INSTANTIATE_TEST_SUITE_P(All, Errors, ::testing::ValuesIn(all_mode_kinds()), mode_kind_name);

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

TEST_P(DeviceRefusals, DeviceMemoryRegistrationIsUnsupported) {
  World w(fabric_config(GetParam()));
  std::vector<uint8_t> memory(4096);
  auto region =
      w.pd(0).register_memory(memory.data(), memory.size(), kAllAccess, MemoryKind::kDevice);
  EXPECT_FALSE(region.ok());
}

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

INSTANTIATE_TEST_SUITE_P(All, DeviceRefusals,
                         ::testing::Values(Mode::kFast, Mode::kDeterministic), mode_param_name);

}  // namespace
}  // namespace ferry::emu::test
