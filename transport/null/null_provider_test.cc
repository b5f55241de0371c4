// The null provider completes every request at once, with success, and still refuses
// what every provider refuses at post time.
#include "transport/null/null_provider.h"

#include <gtest/gtest.h>

#include <vector>

namespace ferry::null {
namespace {

constexpr uint32_t kAll = kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead;

struct Side {
  std::unique_ptr<ProtectionDomain> pd;
  std::unique_ptr<CompletionQueue> cq;
  std::unique_ptr<MemoryRegion> region;
  std::unique_ptr<Endpoint> endpoint;
};

class NullProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int n = 0; n < 2; ++n) {
      providers[n] = open_provider(n, {100});
      Device& device = providers[n]->device(0);
      side[n].pd = std::move(device.create_protection_domain()).value();
      side[n].cq = std::move(device.create_completion_queue(64)).value();
      auto region = side[n].pd->register_memory(buffer[n].data(), buffer[n].size(), kAll, MemoryKind::kHost);
      ASSERT_TRUE(region.ok()) << region.error().to_string();
      side[n].region = std::move(region).value();
      EndpointConfig config;
      config.send_cq = config.recv_cq = side[n].cq.get();
      side[n].endpoint = std::move(side[n].pd->create_endpoint(config)).value();
    }
  }

  void connect() {
    ASSERT_TRUE(side[0].endpoint->connect(side[1].endpoint->address()).ok());
    ASSERT_TRUE(side[1].endpoint->connect(side[0].endpoint->address()).ok());
  }

  std::vector<Completion> poll(int n) {
    std::vector<Completion> out(64);
    auto polled = side[n].cq->poll(out);
    EXPECT_TRUE(polled.ok()) << polled.error().to_string();
    out.resize(polled.ok() ? *polled : 0);
    return out;
  }

  std::unique_ptr<Provider> providers[2];
  std::vector<uint8_t> buffer[2] = {std::vector<uint8_t>(4096, 1), std::vector<uint8_t>(4096, 2)};
  Side side[2];
};

TEST_F(NullProviderTest, EveryOpcodeCompletesAtOnceWithSuccessAndMovesNothing) {
  connect();
  Sge sge{reinterpret_cast<uint64_t>(buffer[0].data()), 1024, side[0].region->lkey()};
  const Opcode opcodes[] = {Opcode::kWrite, Opcode::kWriteWithImm, Opcode::kRead, Opcode::kSend};
  std::vector<WorkRequest> requests;
  for (Opcode op : opcodes) {
    WorkRequest wr;
    wr.cookie = 100 + requests.size();
    wr.opcode = op;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.remote_addr = reinterpret_cast<uint64_t>(buffer[1].data());
    wr.rkey = side[1].region->rkey();
    requests.push_back(wr);
  }
  WorkRequest quiet = requests[0];
  quiet.cookie = 999;
  quiet.signaled = false;  // a success of an unsignaled request reports nothing
  requests.push_back(quiet);
  ASSERT_TRUE(side[0].endpoint->post_send(requests).ok());

  const std::vector<Completion> done = poll(0);
  ASSERT_EQ(done.size(), 4u);
  const CompletionKind kinds[] = {CompletionKind::kWrite, CompletionKind::kWrite, CompletionKind::kRead,
                                  CompletionKind::kSend};
  for (size_t i = 0; i < done.size(); ++i) {
    EXPECT_EQ(done[i].cookie, 100 + i);
    EXPECT_EQ(done[i].status, Status::kSuccess) << to_string(done[i].status);
    EXPECT_EQ(done[i].kind, kinds[i]);
    EXPECT_EQ(done[i].byte_len, 1024u);
    EXPECT_EQ(done[i].endpoint_id, side[0].endpoint->id());
  }
  EXPECT_TRUE(poll(1).empty()) << "the target sees nothing";
  EXPECT_EQ(buffer[1], std::vector<uint8_t>(4096, 2)) << "no byte moves";
  EXPECT_FALSE(providers[0]->progress());
}

TEST_F(NullProviderTest, CountsOneCompletionPerSignaledRequest) {
  connect();
  uint64_t completions = 0;
  for (uint64_t i = 0; i < 10'000; ++i) {
    WorkRequest wr;
    wr.cookie = i;
    wr.signaled = i % 4 != 3;
    ASSERT_TRUE(side[0].endpoint->post_send({&wr, 1}).ok());
    for (const Completion& c : poll(0)) {
      EXPECT_EQ(c.cookie, i);
      EXPECT_EQ(c.status, Status::kSuccess);
      ++completions;
    }
  }
  EXPECT_EQ(completions, 7'500u);
  EXPECT_EQ(requests_posted(*providers[0]).value(), 10'000u);
  EXPECT_EQ(requests_posted(*providers[1]).value(), 0u);
}

TEST_F(NullProviderTest, RefusesWhatEveryProviderRefusesAtPost) {
  WorkRequest wr;
  size_t bad = 7;
  auto early = side[0].endpoint->post_send({&wr, 1}, &bad);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(bad, 0u);

  connect();
  EXPECT_EQ(side[0].endpoint->connect(side[1].endpoint->address()).error().code, ErrorCode::kFailedPrecondition);
  std::vector<Sge> sges(17);
  WorkRequest ok_wr, too_many;
  too_many.sg_list = sges.data();
  too_many.num_sge = 17;  // the device takes 16
  WorkRequest batch[] = {ok_wr, too_many, ok_wr};
  auto refused = side[0].endpoint->post_send(batch, &bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad, 1u);
  EXPECT_EQ(poll(0).size(), 1u) << "the request before the bad one was posted";

  const uint8_t garbage[3] = {1, 2, 3};
  EndpointConfig config;
  config.send_cq = config.recv_cq = side[0].cq.get();
  auto other = std::move(side[0].pd->create_endpoint(config)).value();
  EXPECT_EQ(other->connect(garbage).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(side[0].pd->register_memory(nullptr, 10, kAll, MemoryKind::kHost).ok());
}

TEST_F(NullProviderTest, ErrorStateFlushesRecvsAndLaterRequests) {
  connect();
  RecvRequest recvs[2] = {{1, nullptr, 0}, {2, nullptr, 0}};
  ASSERT_TRUE(side[0].endpoint->post_recv(recvs).ok());
  EXPECT_TRUE(poll(0).empty()) << "nothing ever lands in a recv";
  side[0].endpoint->set_error();
  EXPECT_EQ(side[0].endpoint->state(), EndpointState::kError);
  WorkRequest wr;
  wr.cookie = 3;
  ASSERT_TRUE(side[0].endpoint->post_send({&wr, 1}).ok());
  const std::vector<Completion> done = poll(0);
  ASSERT_EQ(done.size(), 3u);
  for (const Completion& c : done) EXPECT_EQ(c.status, Status::kFlushed);
  EXPECT_EQ(done[2].cookie, 3u);
}

TEST_F(NullProviderTest, AFullCompletionQueueIsReportedAndBreaksTheEndpoint) {
  connect();
  std::vector<WorkRequest> requests(65);
  ASSERT_TRUE(side[0].endpoint->post_send(requests).ok());
  std::vector<Completion> out(128);
  auto polled = side[0].cq->poll(out);
  ASSERT_FALSE(polled.ok());
  EXPECT_EQ(polled.error().code, ErrorCode::kResourceExhausted);
  EXPECT_EQ(side[0].endpoint->state(), EndpointState::kError);
}

TEST(NullCluster, HasTheNodesAndNicsAskedForAndRefusesFaults) {
  auto cluster = open_cluster(3, {100, 200});
  ASSERT_TRUE(cluster.ok()) << cluster.error().to_string();
  EXPECT_EQ((*cluster)->node_count(), 3u);
  EXPECT_EQ((*cluster)->nics_per_node(), 2u);
  EXPECT_EQ((*cluster)->node(2).device(1).attributes().link_gbps, 200);
  EXPECT_EQ((*cluster)->inject(FabricFault{}).error().code, ErrorCode::kUnsupported);
  EXPECT_TRUE((*cluster)->nic_counters(2, 1).ok());
  EXPECT_FALSE((*cluster)->nic_counters(2, 2).ok());
  EXPECT_FALSE(open_cluster(0, {100}).ok());
}

}  // namespace
}  // namespace ferry::null
