// Bad input gives a clear error, never a crash or a hang: options out of range, an
// address nobody listens at or that does not answer, a provider that is gone, bytes on
// a connection that are not ours, GPU memory without a GPU.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "transport/net/socket.h"
#include "transport/tcp/testing/tcp_test_util.h"
#include "transport/tcp/wire.h"

namespace ferry::tcp {
namespace {

using namespace testing;

TEST(TcpBadInput, OptionsOutOfRangeAreRefused) {
  struct Case {
    TcpOptions options;
    const char* named;  // what the message must name
  };
  std::vector<Case> cases(4, Case{{}, ""});
  cases[0].options.connections = 0;
  cases[0].named = "connections";
  cases[1].options.stripe_bytes = 100;
  cases[1].named = "stripe_bytes";
  cases[2].options.host = "not-an-address";
  cases[2].named = "not-an-address";
  cases[3].options.host = "0.0.0.0";
  cases[3].named = "0.0.0.0";
  for (const Case& c : cases) {
    auto p = open_provider(c.options);
    ASSERT_FALSE(p.ok()) << c.named;
    EXPECT_NE(p.error().message.find(c.named), std::string::npos) << p.error().message;
  }
}

TEST(TcpBadInput, PortInUseIsRefused) {
  auto first = open_provider();
  ASSERT_TRUE(first.ok());
  const std::string name = (*first)->device(0).attributes().name;  // tcp:127.0.0.1:PORT
  TcpOptions o;
  o.port = static_cast<uint16_t>(std::stoi(name.substr(name.rfind(':') + 1)));
  auto second = open_provider(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(second.error().message.find(std::to_string(o.port)), std::string::npos) << second.error().message;
}

// connect() to `address` fails as unavailable, naming `named`, and leaves the endpoint
// in init.
void expect_unavailable(Side& s, const std::vector<uint8_t>& address, const std::string& named) {
  auto r = s.ep->connect(address);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find(named), std::string::npos) << r.error().message;
  EXPECT_EQ(s.ep->state(), EndpointState::kInit);
}

// The address of an endpoint whose provider is gone: nobody listens there any more.
TEST(TcpBadInput, ConnectionRefusedIsAnError) {
  std::vector<uint8_t> address;
  {
    Side gone;
    ASSERT_TRUE(open_side(gone));
    address = gone.ep->address();
  }
  Side s;
  ASSERT_TRUE(open_side(s));
  expect_unavailable(s, address, "refused");
}

// An address nobody answers at (TEST-NET-1): connect() gives up after its timeout, or at
// once where the host has no route.
TEST(TcpBadInput, UnreachableAddressIsAnError) {
  TcpOptions o;
  o.connect_timeout_ns = 200'000'000;
  Side s;
  ASSERT_TRUE(open_side(s, o));
  WireAddress a;
  std::memcpy(&a, s.ep->address().data(), sizeof a);
  a.ipv4 = *net::parse_ipv4("192.0.2.1");
  std::vector<uint8_t> bytes(sizeof a);
  std::memcpy(bytes.data(), &a, sizeof a);
  expect_unavailable(s, bytes, "192.0.2.1");
}

// Garbage instead of a hello, and a hello followed by garbage instead of frames: the
// provider drops those connections and goes on serving its endpoints.
TEST(TcpBadInput, BytesThatAreNotFramesCloseTheirConnection) {
  auto src = patterned(8, 5000);
  std::vector<uint8_t> dst(5000, 0);
  Side a, b;
  ASSERT_TRUE(open_side(a));
  ASSERT_TRUE(open_side(b));
  WireAddress to_b;
  std::memcpy(&to_b, b.ep->address().data(), sizeof to_b);
  std::vector<uint8_t> garbage(4096);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = pattern(7, i);
  const uint64_t deadline = SteadyClock().now_ns() + kTimeoutNs;
  for (bool with_hello : {false, true}) {
    auto fd = net::connect_to(to_b.ipv4, to_b.port, 1'000'000'000);
    ASSERT_TRUE(fd.ok()) << fd.error().to_string();
    if (with_hello) {
      Hello hello;
      hello.target_endpoint = to_b.endpoint_id;
      hello.target_nonce = to_b.nonce;
      hello.initiator_nonce = 12345;
      hello.initiator_endpoint = 1;
      hello.connections = 1;
      ASSERT_TRUE(net::write_all(*fd, &hello, sizeof hello, deadline, "b").ok());
      HelloReply reply;
      ASSERT_TRUE(net::read_all(*fd, &reply, sizeof reply, deadline, "b").ok());
      EXPECT_EQ(reply.status, static_cast<uint32_t>(HelloStatus::kAccepted));
    }
    (void)net::write_all(*fd, garbage.data(), garbage.size(), deadline, "b");
    // The provider closes the connection (after its refusal of a bad hello): reads end,
    // with EOF or a reset, within the timeout.
    uint8_t byte;
    VoidResult rest;
    for (int i = 0; i < 100 && rest.ok(); ++i) rest = net::read_all(*fd, &byte, 1, deadline, "b");
    ASSERT_FALSE(rest.ok());
    EXPECT_NE(rest.error().code, ErrorCode::kDeadlineExceeded) << "the provider kept a connection of garbage";
    close(*fd);
  }
  // b still works.
  ASSERT_TRUE(a.ep->connect(b.ep->address()).ok());
  ASSERT_TRUE(b.ep->connect(a.ep->address()).ok());
  const std::vector<Sge> list = {sge(src.data(), src.size(), a.add(src.data(), src.size()))};
  const WorkRequest wr = request(Opcode::kWrite, 1, list, reinterpret_cast<uint64_t>(dst.data()), b.add(dst.data(), dst.size()));
  ASSERT_TRUE(a.ep->post_send({&wr, 1}).ok());
  auto done = wait(*a.cq);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].status, Status::kSuccess);
  EXPECT_EQ(mismatches(dst.data(), 8, 0, dst.size()), 0u);
}

// A request larger than the stripe, to a peer endpoint destroyed while it moves: it
// completes whole or ends with retry exceeded, and nothing waits forever.
TEST(TcpBadInput, PeerDestroyedMidTransferEndsTheRequest) {
  constexpr size_t kBytes = 32 << 20;
  auto src = patterned(9, kBytes);
  std::vector<uint8_t> dst(kBytes, 0);
  Side a, b;
  ASSERT_TRUE(open_side(a));
  ASSERT_TRUE(open_side(b));
  ASSERT_TRUE(a.ep->connect(b.ep->address()).ok());
  ASSERT_TRUE(b.ep->connect(a.ep->address()).ok());
  const std::vector<Sge> list = {sge(src.data(), kBytes, a.add(src.data(), kBytes))};
  const WorkRequest wr = request(Opcode::kWrite, 1, list, reinterpret_cast<uint64_t>(dst.data()), b.add(dst.data(), kBytes));
  ASSERT_TRUE(a.ep->post_send({&wr, 1}).ok());
  b.ep.reset();
  auto done = wait(*a.cq);
  ASSERT_EQ(done.size(), 1u) << "no completion after the peer endpoint went";
  if (done[0].status == Status::kSuccess) {
    EXPECT_EQ(mismatches(dst.data(), 9, 0, kBytes), 0u);
  } else {
    EXPECT_EQ(done[0].status, Status::kRetryExceeded);
  }
  b.regions.clear();  // returns at once: the destroyed endpoint's request holds no region
}

TEST(TcpBadInput, GpuMemoryWithoutGpuIsRefusedWithAReason) {
  std::vector<uint8_t> host(256);
  Side s;
  ASSERT_TRUE(open_side(s));
  auto mr = s.pd->register_memory(host.data(), host.size(), kAllAccess, MemoryKind::kDevice);
  ASSERT_FALSE(mr.ok());
  EXPECT_NE(mr.error().message.find("tcp"), std::string::npos) << mr.error().message;
}

}  // namespace
}  // namespace ferry::tcp
