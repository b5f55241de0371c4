#include "hw_tests/peer_link.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

namespace ferry::qualify {
namespace {

constexpr uint64_t kWaitNs = 10'000'000'000ull;

struct Pair {
  std::unique_ptr<PeerLink> server, client;
};

Pair connected_pair() {
  Pair p;
  auto listener = PeerListener::open("127.0.0.1:0");
  EXPECT_TRUE(listener.ok());
  if (!listener.ok()) return p;
  std::thread accept([&] {
    auto link = (*listener)->accept(kWaitNs);
    if (link.ok()) p.server = std::move(link).value();
  });
  auto link = connect_peer("127.0.0.1:" + std::to_string((*listener)->port()), kWaitNs);
  accept.join();
  if (link.ok()) p.client = std::move(link).value();
  return p;
}

TEST(PeerLink, CarriesMessagesBothWaysInOrder) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.server && p.client);
  ASSERT_TRUE(p.client->send("one", WireWriter().u64(7).text("seven").data()).ok());
  ASSERT_TRUE(p.client->send("two").ok());
  auto one = p.server->expect("one", kWaitNs);
  ASSERT_TRUE(one.ok()) << one.error().to_string();
  WireReader r(*one);
  EXPECT_EQ(r.u64(), 7u);
  EXPECT_EQ(r.text(), "seven");
  EXPECT_FALSE(r.failed());
  ASSERT_TRUE(p.server->expect("two", kWaitNs).ok());
  std::vector<uint8_t> big(1 << 20, 0x5c);
  ASSERT_TRUE(p.server->send("big", big).ok());
  auto back = p.client->expect("big", kWaitNs);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, big);
  EXPECT_EQ(p.client->peer_host(), "127.0.0.1");
}

TEST(PeerLink, AnotherKindTimeoutAndHangUpAreErrors) {
  Pair p = connected_pair();
  ASSERT_TRUE(p.server && p.client);
  ASSERT_TRUE(p.client->send("abort", WireWriter().data()).ok());
  auto wrong = p.server->expect("ready", kWaitNs);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("got 'abort'"), std::string::npos) << wrong.error().message;
  auto nothing = p.server->expect("ready", 20'000'000);
  ASSERT_FALSE(nothing.ok());
  EXPECT_EQ(nothing.error().code, ErrorCode::kDeadlineExceeded);
  p.client->close();
  auto gone = p.server->expect("ready", kWaitNs);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(p.client->send("late").ok());
}

TEST(PeerLink, GarbageFromThePeerIsAnErrorNotACrash) {
  auto listener = PeerListener::open("127.0.0.1:0");
  ASSERT_TRUE(listener.ok());
  const int raw = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(raw, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons((*listener)->port());
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(raw, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  auto server = (*listener)->accept(kWaitNs);
  ASSERT_TRUE(server.ok());
  const char junk[] = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(::write(raw, junk, sizeof junk - 1), static_cast<ssize_t>(sizeof junk - 1));
  auto got = (*server)->expect("hello", kWaitNs);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("garbage"), std::string::npos) << got.error().message;
  ::close(raw);

  WireReader short_read(std::vector<uint8_t>{1, 2, 3});
  EXPECT_EQ(short_read.u64(), 0u);
  EXPECT_TRUE(short_read.failed());
  const std::vector<uint8_t> lying = WireWriter().u64(1000).data();  // claims 1000 bytes, has none
  WireReader r(lying);
  EXPECT_TRUE(r.bytes().empty());
  EXPECT_TRUE(r.failed());
}

TEST(PeerLink, BadAddressesAndNoListenerAreClearErrors) {
  EXPECT_FALSE(PeerListener::open("nonsense").ok());
  auto c = connect_peer("127.0.0.1", kWaitNs);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("HOST:PORT"), std::string::npos);
  // Port 1 on loopback: nothing listens; the connect retries until its timeout.
  auto none = connect_peer("127.0.0.1:1", 200'000'000);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, ErrorCode::kDeadlineExceeded);
}

}  // namespace
}  // namespace ferry::qualify
