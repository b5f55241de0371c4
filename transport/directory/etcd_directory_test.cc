// The etcd directory against a real etcd (started by the test, testing/etcd_server.h):
// entries, ownership, liveness through the lease, close; and bad URLs, an etcd that is
// not there and servers that do not speak HTTP, each a clear error within its bound.
#include "transport/directory/etcd_directory.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "transport/clock.h"
#include "transport/directory/base64.h"
#include "transport/directory/etcd_client.h"
#include "transport/directory/http.h"
#include "transport/directory/testing/etcd_server.h"
#include "transport/net/socket.h"

namespace ferry::directory {
namespace {

using testing::EtcdServer;

uint64_t now_ms() { return SteadyClock().now_ns() / 1'000'000; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One etcd for the whole suite; each test names its own cluster, so they see nothing of
// each other's entries.
class EtcdDirectoryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = EtcdServer::start();
    if (!started.ok()) {
      start_error_ = new std::string(started.error().to_string());
      return;
    }
    server_ = std::move(started).value().release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_EQ(start_error_, nullptr) << "cannot start etcd: " << *start_error_;
  }

  DirectoryOptions options(uint64_t ttl_ms = 5000) const {
    DirectoryOptions o;
    o.cluster = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    o.ttl_ms = ttl_ms;
    return o;
  }
  std::unique_ptr<Directory> open(uint64_t ttl_ms = 5000) const {
    auto directory = open_directory(server_->url(), options(ttl_ms));
    EXPECT_TRUE(directory.ok()) << directory.error().to_string();
    return directory.ok() ? std::move(directory).value() : nullptr;
  }

  static EtcdServer* server_;
  static std::string* start_error_;
};

EtcdServer* EtcdDirectoryTest::server_ = nullptr;
std::string* EtcdDirectoryTest::start_error_ = nullptr;

TEST_F(EtcdDirectoryTest, PublishLookupListWithdraw) {
  auto a = open();
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(contains(a->describe(), server_->address())) << a->describe();
  EXPECT_TRUE(contains(a->describe(), "PublishLookupListWithdraw")) << a->describe();

  ASSERT_TRUE(a->publish("engine/0", "10.0.0.1:7000").ok());
  ASSERT_TRUE(a->publish("engine/1", std::string("bytes\0\xff", 7)).ok());
  ASSERT_TRUE(a->publish("ready/0", "").ok());

  auto found = a->lookup("engine/0");
  ASSERT_TRUE(found.ok()) << found.error().to_string();
  EXPECT_EQ(*found, std::optional<std::string>("10.0.0.1:7000"));
  auto binary = a->lookup("engine/1");
  ASSERT_TRUE(binary.ok());
  EXPECT_EQ(*binary, std::optional<std::string>(std::string("bytes\0\xff", 7)));
  auto empty = a->lookup("ready/0");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, std::optional<std::string>(""));
  auto missing = a->lookup("engine/9");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto engines = a->list("engine/");
  ASSERT_TRUE(engines.ok()) << engines.error().to_string();
  EXPECT_EQ(engines->size(), 2u);
  EXPECT_EQ(engines->at("engine/0"), "10.0.0.1:7000");
  auto everything = a->list("");
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->size(), 3u);

  // Another client of the same cluster sees them; one of another cluster does not.
  auto b = open();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(*b->wait_for("engine/0", 1000), "10.0.0.1:7000");
  DirectoryOptions elsewhere = options();
  elsewhere.cluster += "-other";
  auto other = open_directory(server_->url(), elsewhere);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE((*other)->list("")->empty());

  ASSERT_TRUE(a->withdraw("engine/0").ok());
  EXPECT_FALSE(b->lookup("engine/0")->has_value());
  EXPECT_EQ(a->list("engine/")->size(), 1u);
  // b never published it: not b's to withdraw.
  auto not_mine = b->withdraw("engine/1");
  ASSERT_FALSE(not_mine.ok());
  EXPECT_EQ(not_mine.error().code, ErrorCode::kNotFound);
  EXPECT_TRUE(contains(not_mine.error().message, "engine/1")) << not_mine.error().message;
  EXPECT_TRUE(b->lookup("engine/1")->has_value());
  a->close();
  b->close();
  (*other)->close();
}

TEST_F(EtcdDirectoryTest, AKeyOwnedByAnotherLiveProcessIsRefusedNamingIt) {
  auto a = open();
  auto b = open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->publish("rank/3", "host-a:1").ok());

  auto twice = b->publish("rank/3", "host-b:1");
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(contains(twice.error().message, "'rank/3'")) << twice.error().message;
  EXPECT_EQ(*b->lookup("rank/3"), std::optional<std::string>("host-a:1"));

  // The owner may publish it again (a new value); once it withdraws, b may take it.
  ASSERT_TRUE(a->publish("rank/3", "host-a:2").ok());
  EXPECT_EQ(*b->lookup("rank/3"), std::optional<std::string>("host-a:2"));
  ASSERT_TRUE(a->withdraw("rank/3").ok());
  auto taken = b->publish("rank/3", "host-b:1");
  EXPECT_TRUE(taken.ok()) << taken.error().to_string();
  EXPECT_FALSE(a->publish("rank/3", "host-a:3").ok());
  a->close();
  b->close();
}

TEST_F(EtcdDirectoryTest, CloseRemovesEntriesAtOnce) {
  auto a = open();
  auto b = open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->publish("engine/0", "x").ok());
  ASSERT_TRUE(a->publish("engine/1", "y").ok());
  a->close();
  EXPECT_TRUE(b->list("")->empty());
  auto after = a->publish("engine/2", "z");
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, ErrorCode::kFailedPrecondition);
  a->close();  // again: nothing
  b->close();
}

TEST_F(EtcdDirectoryTest, AProcessThatStopsRenewingLosesItsEntriesWithinTheTtl) {
  // 1 s asks for etcd's minimum (2 s by default).
  auto silent = open(/*ttl_ms=*/1000);
  auto watcher = open();
  ASSERT_NE(silent, nullptr);
  ASSERT_NE(watcher, nullptr);
  ASSERT_TRUE(silent->publish("engine/0", "x").ok());
  const uint64_t published_ms = now_ms();
  silent.reset();  // gone without close(), as a crash: the lease is left to expire

  // Within etcd's minimum TTL plus generous slack (etcd checks expiry every 500 ms).
  constexpr uint64_t kBoundMs = 2000 + 8000;
  bool gone = false;
  while (!gone && now_ms() - published_ms < kBoundMs) {
    auto found = watcher->lookup("engine/0");
    ASSERT_TRUE(found.ok()) << found.error().to_string();
    gone = !found->has_value();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone) << "the entry outlived its lease by far";
  // The key is free again for a live process.
  EXPECT_TRUE(watcher->publish("engine/0", "y").ok());
  watcher->close();
}

TEST_F(EtcdDirectoryTest, KeepAliveKeepsEntriesPastTheTtl) {
  auto a = open(/*ttl_ms=*/2000);
  auto b = open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->publish("engine/0", "x").ok());
  const uint64_t start = now_ms();
  while (now_ms() - start < 3 * 2000) {
    auto kept = a->keep_alive();
    ASSERT_TRUE(kept.ok()) << kept.error().to_string();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(*b->lookup("engine/0"), std::optional<std::string>("x"));
  a->close();
  b->close();
}

TEST_F(EtcdDirectoryTest, AnExpiredLeaseIsReplacedAndTheEntriesPublishedAgain) {
  auto a = open(/*ttl_ms=*/2000);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->publish("engine/0", "x").ok());
  // Revoke every lease behind a's back, as if a had been silent past its TTL (the other
  // tests' clients are closed or gone).
  EtcdClient raw({server_->address()}, 2000);
  auto leases = raw.call("lease/leases", "{}");
  ASSERT_TRUE(leases.ok()) << leases.error().to_string();
  ASSERT_NE(leases->find("leases"), nullptr);
  for (const json::JsonValue& lease : leases->find("leases")->items) {
    ASSERT_TRUE(raw.call("lease/revoke", "{\"ID\":\"" + lease.find("ID")->text + "\"}").ok());
  }
  EXPECT_FALSE(a->lookup("engine/0")->has_value());
  // The renewing thread finds the lease gone at its next renewal (a third of the TTL),
  // takes a new one and publishes the entry again; keep_alive() says so meanwhile.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool back = false;
  std::string said;
  while (!back && std::chrono::steady_clock::now() < deadline) {
    if (auto renewed = a->keep_alive(); !renewed.ok()) said = renewed.error().message;
    back = a->lookup("engine/0")->has_value();
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(back) << "the entry was not published again; keep_alive said: " << said;
  EXPECT_EQ(*a->lookup("engine/0"), std::optional<std::string>("x"));
  if (!said.empty()) {
    EXPECT_TRUE(contains(said, "expired")) << said;
  }
  bool healthy = false;
  while (!healthy && std::chrono::steady_clock::now() < deadline) {
    healthy = a->keep_alive().ok();
    if (!healthy) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(healthy) << "keep_alive still failing after the new lease";
  a->close();
}

TEST_F(EtcdDirectoryTest, WaitForReturnsOncePublishedAndOtherwiseTimesOutNamingTheKey) {
  auto a = open();
  auto b = open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  std::thread publisher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_TRUE(a->publish("late", "here").ok());
  });
  auto waited = b->wait_for("late", 30'000);
  publisher.join();
  ASSERT_TRUE(waited.ok()) << waited.error().to_string();
  EXPECT_EQ(*waited, "here");

  auto never = b->wait_for("never", 200);
  ASSERT_FALSE(never.ok());
  EXPECT_EQ(never.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_TRUE(contains(never.error().message, "'never'")) << never.error().message;
  a->close();
  b->close();
}

TEST_F(EtcdDirectoryTest, EndpointsThatRefuseAreSkipped) {
  auto dead_port = net::listen_on("127.0.0.1", 0);
  ASSERT_TRUE(dead_port.ok());
  const uint16_t port = *net::local_port(*dead_port);
  ::close(*dead_port);  // now nothing listens there
  auto directory =
      open_directory("etcd://127.0.0.1:" + std::to_string(port) + "," + server_->address(), options());
  ASSERT_TRUE(directory.ok()) << directory.error().to_string();
  EXPECT_TRUE((*directory)->publish("k", "v").ok());
  EXPECT_EQ(*(*directory)->lookup("k"), std::optional<std::string>("v"));
  (*directory)->close();
}

TEST_F(EtcdDirectoryTest, BadKeysAndValuesAreRefused) {
  auto a = open();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->publish("", "v").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(a->publish(std::string(2000, 'k'), "v").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(a->publish("k", std::string(1 << 20, 'v')).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ(a->lookup("").error().code, ErrorCode::kInvalidArgument);
  a->close();
}

// --- without etcd -----------------------------------------------------------------------

TEST(EtcdDirectoryUrl, BadUrlsNameTheUrlAndTheAcceptedForms) {
  for (const std::string url : {"", "etcd", "http://127.0.0.1:2379", "etcd://", "etcd://127.0.0.1",
                                "etcd://127.0.0.1:0", "etcd://127.0.0.1:99999", "etcd://127.0.0.1:2379,",
                                "etcd://127.0.0.1:2379/path", "file://relative/path"}) {
    auto directory = open_directory(url);
    ASSERT_FALSE(directory.ok()) << url;
    EXPECT_EQ(directory.error().code, ErrorCode::kInvalidArgument) << url << ": " << directory.error().to_string();
    EXPECT_TRUE(contains(directory.error().message, "'" + url + "'")) << directory.error().message;
    EXPECT_TRUE(contains(directory.error().message, "etcd://HOST:PORT")) << directory.error().message;
  }
  DirectoryOptions slash;
  slash.cluster = "a/b";
  EXPECT_EQ(open_directory("etcd://127.0.0.1:2379", slash).error().code, ErrorCode::kInvalidArgument);
}

TEST(EtcdDirectoryUnreachable, APortNobodyListensOnFailsWithinTheTimeoutNamingTheUrl) {
  auto socket = net::listen_on("127.0.0.1", 0);
  ASSERT_TRUE(socket.ok());
  const uint16_t port = *net::local_port(*socket);
  ::close(*socket);
  const std::string url = "etcd://127.0.0.1:" + std::to_string(port);
  DirectoryOptions options;
  options.request_timeout_ms = 500;
  const uint64_t start = now_ms();
  auto directory = open_directory(url, options);
  ASSERT_FALSE(directory.ok());
  EXPECT_LT(now_ms() - start, 10'000u);
  EXPECT_EQ(directory.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(contains(directory.error().message, url)) << directory.error().message;
}

TEST(EtcdDirectoryUnreachable, AServerThatNeverAnswersFailsWithinTheTimeoutNamingTheUrl) {
  // Listening but never accepting: the kernel completes the handshake, nobody answers.
  auto socket = net::listen_on("127.0.0.1", 0);
  ASSERT_TRUE(socket.ok());
  const std::string url = "etcd://127.0.0.1:" + std::to_string(*net::local_port(*socket));
  DirectoryOptions options;
  options.request_timeout_ms = 500;
  const uint64_t start = now_ms();
  auto directory = open_directory(url, options);
  ::close(*socket);
  ASSERT_FALSE(directory.ok());
  EXPECT_LT(now_ms() - start, 10'000u);
  EXPECT_TRUE(contains(directory.error().message, url)) << directory.error().message;
}

// Answers every connection with `reply`, whatever was asked.
class FakeServer {
 public:
  explicit FakeServer(std::string reply) : reply_(std::move(reply)) {
    listen_fd_ = *net::listen_on("127.0.0.1", 0);
    port_ = *net::local_port(listen_fd_);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  std::string url() const { return "etcd://127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      const uint64_t deadline = SteadyClock().now_ns() + 2'000'000'000;
      char request[4096];
      (void)net::read_some(fd, request, sizeof request, deadline, "client");
      (void)net::write_all(fd, reply_.data(), reply_.size(), deadline, "client");
      ::shutdown(fd, SHUT_WR);
      // Drain until the client closes, so that unread request bytes cause no reset.
      for (;;) {
        auto n = net::read_some(fd, request, sizeof request, deadline, "client");
        if (!n.ok() || *n == 0) break;
      }
      ::close(fd);
    }
  }

  std::string reply_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(EtcdDirectoryMalformed, ServersThatDoNotSpeakHttpGiveClearErrors) {
  struct Case {
    std::string reply;
    std::string expected;
  };
  const Case cases[] = {
      {"garbage\r\n\r\n", "malformed HTTP response"},
      {"SSH-2.0-OpenSSH_9.2\r\n", "malformed HTTP response"},
      {"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\n{}", "status line"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n{}", "exceeds"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "chunk size"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}", "closed inside a chunked body"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "closed before"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n[1,2]", "not a JSON object"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n{\"ID\":", "not a JSON object"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", "no lease granted"},
      {"HTTP/1.1 500 Internal\r\nContent-Length: 26\r\n\r\n{\"message\":\"out of order\"}", "out of order"},
      {"", "malformed HTTP response"},
  };
  for (const Case& c : cases) {
    FakeServer server(c.reply);
    DirectoryOptions options;
    options.request_timeout_ms = 2000;
    auto directory = open_directory(server.url(), options);
    ASSERT_FALSE(directory.ok()) << c.reply;
    EXPECT_TRUE(contains(directory.error().message, c.expected))
        << "reply " << c.reply << " gave " << directory.error().message;
    EXPECT_TRUE(contains(directory.error().message, server.url())) << directory.error().message;
  }
}

TEST(HttpResponse, ParsesLengthChunkedAndCloseDelimitedBodies) {
  auto whole = parse_http_response("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", false, 100);
  ASSERT_TRUE(whole.ok() && whole->has_value());
  EXPECT_EQ((*whole)->status, 200);
  EXPECT_EQ((*whole)->body, "{}");

  const std::string chunked = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  for (size_t cut = 0; cut < chunked.size(); ++cut) {
    auto partial = parse_http_response(chunked.substr(0, cut), false, 100);
    ASSERT_TRUE(partial.ok()) << cut << ": " << partial.error().message;
    EXPECT_FALSE(partial->has_value()) << cut;
  }
  auto done = parse_http_response(chunked, false, 100);
  ASSERT_TRUE(done.ok() && done->has_value());
  EXPECT_EQ((*done)->status, 404);
  EXPECT_EQ((*done)->body, "abcde");
  EXPECT_EQ(parse_http_response(chunked, false, 4).error().code, ErrorCode::kOutOfRange);

  auto until_close = parse_http_response("HTTP/1.0 200 OK\r\n\r\nabc", true, 100);
  ASSERT_TRUE(until_close.ok() && until_close->has_value());
  EXPECT_EQ((*until_close)->body, "abc");
  EXPECT_FALSE(parse_http_response("HTTP/1.0 200 OK\r\n\r\nabc", false, 100)->has_value());
  EXPECT_EQ(parse_http_response("HTTP/1.0 200 OK\r\n\r\nabcdef", true, 4).error().code, ErrorCode::kOutOfRange);
  EXPECT_FALSE(parse_http_response(std::string(kMaxHttpHeaderBytes + 1, 'H'), false, 100).ok());
  EXPECT_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false, 100).ok());
  EXPECT_FALSE(parse_http_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, 100).ok());
}

TEST(Base64, RoundTripsEveryLengthAndRefusesWhatIsNotBase64) {
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  std::string bytes;
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(base64_decode(base64_encode(bytes)), std::optional<std::string>(bytes)) << i;
    bytes += static_cast<char>(i * 37);
  }
  for (const char* bad : {"Zm9", "Zm9v!", "Z===", "Zm=v", "====", "Zm9v Zg=="}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace ferry::directory
