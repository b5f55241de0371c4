#include "transport/engine/tcp_exchange.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "transport/random.h"
#include "transport/engine/testing/world.h"

namespace ferry {
namespace {

std::unique_ptr<TcpExchange> listen_local(const std::string& name) {
  auto exchange = TcpExchange::listen(name, "127.0.0.1", 0);
  EXPECT_TRUE(exchange.ok()) << exchange.error().to_string();
  return std::move(exchange).value();
}

// Polls until a message arrives; bounded (the loopback delivers in microseconds).
std::optional<ExchangeMessage> receive(TcpExchange& exchange, const std::string& me) {
  for (int i = 0; i < 20000; ++i) {
    if (auto m = exchange.poll(me)) return m;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return std::nullopt;
}

TEST(TcpExchange, CarriesMessagesBothWays) {
  auto a = listen_local("a");
  auto b = listen_local("b");
  ASSERT_TRUE(a->add_peer("b", "127.0.0.1:" + std::to_string(b->port())).ok());
  ASSERT_TRUE(b->add_peer("a", "127.0.0.1:" + std::to_string(a->port())).ok());
  std::vector<uint8_t> big(100000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  ASSERT_TRUE(a->send("a", "b", {1, 2, 3}).ok());
  ASSERT_TRUE(a->send("a", "b", big).ok());
  ASSERT_TRUE(b->send("b", "a", {9}).ok());
  auto m1 = receive(*b, "b");
  ASSERT_TRUE(m1.has_value());
  EXPECT_EQ(m1->from, "a");
  EXPECT_EQ(m1->bytes, (std::vector<uint8_t>{1, 2, 3}));
  auto m2 = receive(*b, "b");
  ASSERT_TRUE(m2.has_value());
  EXPECT_EQ(m2->bytes, big);
  auto m3 = receive(*a, "a");
  ASSERT_TRUE(m3.has_value());
  EXPECT_EQ(m3->bytes, std::vector<uint8_t>{9});
}

TEST(TcpExchange, UnknownOrUnreachablePeersAreClearErrors) {
  auto a = listen_local("a");
  auto unknown = a->send("a", "nobody", {1});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("nobody"), std::string::npos);
  // A port nobody listens on: bind one, then close it.
  auto gone = listen_local("gone");
  const uint16_t port = gone->port();
  gone.reset();
  ASSERT_TRUE(a->add_peer("gone", "127.0.0.1:" + std::to_string(port)).ok());
  auto refused = a->send("a", "gone", {1});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(a->add_peer("x", "no-port").ok());
  EXPECT_FALSE(a->send("a", "gone", std::vector<uint8_t>(TcpExchange::kMaxPayload + 1)).ok());
}

// A plain TCP connection to 127.0.0.1:port, or -1.
int connect_raw(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A hostile client that sends garbage loses its connection; good peers are unaffected.
TEST(TcpExchange, HostileBytesCloseOnlyTheirConnection) {
  auto a = listen_local("a");
  auto good = listen_local("good");
  ASSERT_TRUE(good->add_peer("a", "127.0.0.1:" + std::to_string(a->port())).ok());
  const int fd = connect_raw(a->port());
  ASSERT_GE(fd, 0);
  const char garbage[] = "GET / HTTP/1.1\r\n\r\n";
  ASSERT_GT(::send(fd, garbage, sizeof garbage, 0), 0);
  // A frame header claiming a payload beyond the limit, too.
  ASSERT_TRUE(good->send("good", "a", {42}).ok());
  auto m = receive(*a, "a");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->from, "good");
  for (int i = 0; i < 100 && a->last_error().empty(); ++i) {
    a->poll("a");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_NE(a->last_error().find("bad magic"), std::string::npos) << a->last_error();
  ::close(fd);
}

// A client that floods valid frames as fast as its socket takes them: the exchange
// holds at most its bound from it however far its poller falls behind, and still
// delivers every frame whole and in order.
TEST(TcpExchange, AFloodingPeerIsBufferedOnlyUpToTheBound) {
  auto a = listen_local("a");
  const int fd = connect_raw(a->port());
  ASSERT_GE(fd, 0);
  constexpr uint32_t kFrames = 256;  // 16 MiB in all, four times the bound
  constexpr size_t kPayload = 64 << 10;
  auto byte_of = [](uint32_t frame, size_t i) { return static_cast<uint8_t>(frame * 7 + i); };
  std::thread flood([&] {
    for (uint32_t f = 0; f < kFrames; ++f) {
      std::vector<uint8_t> payload(kPayload);
      for (size_t i = 0; i < kPayload; ++i) payload[i] = byte_of(f, i);
      const std::vector<uint8_t> frame = encode_frame("flood", payload);
      size_t off = 0;
      while (off < frame.size()) {
        const ssize_t n = ::send(fd, frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<size_t>(n);
      }
    }
  });
  uint32_t received = 0;
  size_t most_held = 0;
  for (uint64_t spin = 0; spin < 100'000'000 && received < kFrames; ++spin) {
    auto m = a->poll("a");
    most_held = std::max(most_held, a->buffered_bytes());
    if (!m.has_value()) {
      std::this_thread::yield();
      continue;
    }
    bool whole = m->from == "flood" && m->bytes.size() == kPayload;
    for (size_t i = 0; whole && i < kPayload; ++i) whole = m->bytes[i] == byte_of(received, i);
    if (!whole) break;  // the check below names the frame
    ++received;
  }
  ::shutdown(fd, SHUT_RDWR);  // ends the flood if the exchange stopped taking it
  flood.join();
  EXPECT_EQ(received, kFrames) << "frame " << received << " was not delivered whole and in order";
  EXPECT_LE(most_held, TcpExchange::kMaxBufferedPerPeer);
  ::close(fd);
}

TEST(ExchangeFrame, DecodesWhatItEncodesAndWaitsForTheRest) {
  const std::vector<uint8_t> payload = {5, 6, 7, 8};
  const std::vector<uint8_t> frame = encode_frame("rank3", payload);
  for (size_t n = 0; n < frame.size(); ++n) {
    size_t consumed = 99;
    auto partial = decode_frame(std::span(frame).first(n), &consumed);
    ASSERT_TRUE(partial.ok()) << n;
    EXPECT_FALSE(partial->has_value()) << n;
    EXPECT_EQ(consumed, 0u);
  }
  size_t consumed = 0;
  auto whole = decode_frame(frame, &consumed);
  ASSERT_TRUE(whole.ok() && whole->has_value());
  EXPECT_EQ(consumed, frame.size());
  EXPECT_EQ((*whole)->from, "rank3");
  EXPECT_EQ((*whole)->payload, payload);
}

// Seeded fuzzing: random bytes and mutated frames never crash, never read out of bounds
// (run under ASan), and either decode, wait for more, or fail with an error.
TEST(ExchangeFrame, FuzzedInputNeverCrashes) {
  ferry::Rng rng(2024);
  const std::vector<uint8_t> valid = encode_frame("peer", std::vector<uint8_t>(40, 1));
  for (int i = 0; i < 200000; ++i) {
    std::vector<uint8_t> bytes;
    if (i % 2 == 0) {
      bytes.resize(rng.below(64));
      for (auto& b : bytes) b = static_cast<uint8_t>(rng.next());
    } else {
      bytes = valid;
      for (int flips = 1 + static_cast<int>(rng.below(4)); flips > 0; --flips) {
        bytes[rng.below(bytes.size())] = static_cast<uint8_t>(rng.next());
      }
      bytes.resize(rng.below(bytes.size() + 1));
    }
    size_t consumed = 0;
    auto r = decode_frame(bytes, &consumed);
    if (r.ok() && r->has_value()) {
      ASSERT_LE(consumed, bytes.size());
      ASSERT_FALSE((*r)->from.empty());
    } else {
      ASSERT_EQ(consumed, 0u);
    }
  }
}

// Two engines that know each other only by host:port, each with its own exchange, as two
// processes on two hosts would: they connect and move verified bytes.
TEST(TcpExchange, EnginesFindEachOtherByHostAndPort) {
  fabrics::ClusterOptions options;
  options.provider = fabrics::kEmuFast;  // real time: the engines' progress alone moves it
  auto made = fabrics::make_cluster(options);
  ASSERT_TRUE(made.ok()) << made.error().to_string();
  Cluster& fabric = **made;
  auto x0 = listen_local("rank0");
  auto x1 = listen_local("rank1");
  ASSERT_TRUE(x0->add_peer("rank1", "127.0.0.1:" + std::to_string(x1->port())).ok());
  ASSERT_TRUE(x1->add_peer("rank0", "127.0.0.1:" + std::to_string(x0->port())).ok());
  Engine e0("rank0", fabric.node(0), *x0), e1("rank1", fabric.node(1), *x1);
  ASSERT_TRUE(e0.open().ok());
  ASSERT_TRUE(e1.open().ok());
  std::vector<uint8_t> src(1 << 20), dst(1 << 20, 0);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 13 + 1);
  ASSERT_TRUE(e0.register_memory(src.data(), src.size()).ok());
  auto reg = e1.register_memory(dst.data(), dst.size());
  ASSERT_TRUE(reg.ok());
  // The descriptor travels out of band too.
  ASSERT_TRUE(x1->send("rank1", "rank0", (*reg)->descriptor().serialize()).ok());
  auto descriptor = receive(*x0, "rank0");
  ASSERT_TRUE(descriptor.has_value());
  ASSERT_TRUE(e0.add_peer("rank1").ok());
  auto region = e0.import_region("rank1", descriptor->bytes);
  ASSERT_TRUE(region.ok()) << region.error().to_string();
  bool done = false, ok = false;
  ASSERT_TRUE(e0.write("rank1", src.data(), src.size(), *region, 0, std::nullopt, [&](const TransferResult& r) {
    done = true;
    ok = r.ok();
  }).ok());
  for (int i = 0; i < 2'000'000 && !done; ++i) {
    e0.progress();
    e1.progress();
  }
  ASSERT_TRUE(done);
  EXPECT_TRUE(ok);
  EXPECT_EQ(src, dst);
}

}  // namespace
}  // namespace ferry
