#include "transport/directory/file_directory.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "transport/directory/directory_exchange.h"

namespace ferry::directory {
namespace {

class FileDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ferry-directory.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::unique_ptr<Directory> open(const std::string& cluster = "test") {
    DirectoryOptions options;
    options.cluster = cluster;
    auto d = open_directory("file://" + root_, options);
    EXPECT_TRUE(d.ok()) << d.error().to_string();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  std::string root_;
};

TEST_F(FileDirectoryTest, PublishesLooksUpListsAndWithdraws) {
  auto a = open();
  ASSERT_TRUE(a->publish("exchange/rank0", "127.0.0.1:1000").ok());
  ASSERT_TRUE(a->publish("exchange/rank1", "127.0.0.1:1001").ok());
  ASSERT_TRUE(a->publish("node/0", "ready").ok());
  auto b = open();
  auto found = b->lookup("exchange/rank1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, "127.0.0.1:1001");
  auto listed = b->list("exchange/");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
  EXPECT_EQ(listed->at("exchange/rank0"), "127.0.0.1:1000");
  // Republishing one's own key replaces the value.
  ASSERT_TRUE(a->publish("exchange/rank0", "127.0.0.1:2000").ok());
  EXPECT_EQ(**b->lookup("exchange/rank0"), "127.0.0.1:2000");
  ASSERT_TRUE(a->withdraw("exchange/rank0").ok());
  EXPECT_FALSE(b->lookup("exchange/rank0")->has_value());
  a->close();
  EXPECT_TRUE(b->list("")->empty());
}

TEST_F(FileDirectoryTest, ClustersDoNotSeeEachOther) {
  auto a = open("one");
  auto b = open("two");
  ASSERT_TRUE(a->publish("k", "v").ok());
  EXPECT_FALSE(b->lookup("k")->has_value());
  EXPECT_TRUE(b->publish("k", "w").ok());
}

TEST_F(FileDirectoryTest, RefusesAKeyALiveProcessOwnsAndTakesOverADeadOnes) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto d = open();
    const bool ok = d && d->publish("rank/3", "child").ok();
    const char byte = ok ? 1 : 0;
    (void)!write(ready[1], &byte, 1);
    pause();  // until killed: its entry stays
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 1);
  auto d = open();
  const VoidResult refused = d->publish("rank/3", "parent");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("rank/3"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find(std::to_string(child)), std::string::npos) << refused.error().message;

  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  EXPECT_FALSE(d->lookup("rank/3")->has_value()) << "a dead process's entry is absent";
  ASSERT_TRUE(d->publish("rank/3", "parent").ok());
  EXPECT_EQ(**d->lookup("rank/3"), "parent");
  close(ready[0]);
  close(ready[1]);
}

TEST_F(FileDirectoryTest, WaitForEndsWhenTheKeyAppearsOrAtItsBound) {
  auto a = open();
  auto b = open();
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (void)a->publish("late", "here");
  });
  auto got = b->wait_for("late", 10000);
  later.join();
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  EXPECT_EQ(*got, "here");
  auto missing = b->wait_for("never", 30);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kDeadlineExceeded);
  EXPECT_NE(missing.error().message.find("never"), std::string::npos);
}

TEST_F(FileDirectoryTest, KeysWithSlashesAndPercentSignsRoundTrip) {
  auto a = open();
  ASSERT_TRUE(a->publish("a/b%2Fc/%", "x").ok());
  auto listed = a->list("a/");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->begin()->first, "a/b%2Fc/%");
}

TEST_F(FileDirectoryTest, RefusesBadUrlsAndPaths) {
  for (const char* url : {"file://relative/path", "http://x", "", "etcd"}) {
    auto d = open_directory(url);
    EXPECT_FALSE(d.ok()) << url;
  }
  DirectoryOptions slash;
  slash.cluster = "a/b";
  EXPECT_FALSE(open_directory("file://" + root_, slash).ok());
}

// Drives both exchanges until `to` has a message, at most a few seconds.
std::optional<ExchangeMessage> receive(DirectoryExchange& to, const std::string& name, DirectoryExchange& other) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    (void)other.poll("nobody");
    if (auto m = to.poll(name)) return m;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return std::nullopt;
}

TEST_F(FileDirectoryTest, ExchangesFindPeersLazilyInAnyOrder) {
  auto d = open();
  auto a = DirectoryExchange::open(*d, "rank0", "127.0.0.1");
  ASSERT_TRUE(a.ok()) << a.error().to_string();
  // rank1 does not exist yet: the message waits for it.
  ASSERT_TRUE((*a)->send("rank0", "rank1", {1, 2, 3}).ok());
  auto b = DirectoryExchange::open(*d, "rank1", "127.0.0.1");
  ASSERT_TRUE(b.ok()) << b.error().to_string();
  auto got = receive(**b, "rank1", **a);
  ASSERT_TRUE(got.has_value()) << (*a)->last_error();
  EXPECT_EQ(got->from, "rank0");
  EXPECT_EQ(got->bytes, (std::vector<uint8_t>{1, 2, 3}));
  ASSERT_TRUE((*b)->send("rank1", "rank0", {9}).ok());
  auto back = receive(**a, "rank0", **b);
  ASSERT_TRUE(back.has_value()) << (*b)->last_error();
  EXPECT_EQ(back->bytes, (std::vector<uint8_t>{9}));
}

TEST_F(FileDirectoryTest, APeerThatNeverAppearsFailsInBoundedTime) {
  auto d = open();
  auto a = DirectoryExchange::open(*d, "rank0", "127.0.0.1", /*lookup_timeout_ms=*/50);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE((*a)->send("rank0", "ghost", {1}).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  VoidResult later = {};
  while (std::chrono::steady_clock::now() < deadline) {
    (void)(*a)->poll("rank0");
    later = (*a)->send("rank0", "ghost", {2});
    if (!later.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.error().code, ErrorCode::kNotFound);
  EXPECT_NE(later.error().message.find("ghost"), std::string::npos) << later.error().message;
  EXPECT_NE((*a)->last_error().find("ghost"), std::string::npos) << (*a)->last_error();
}

}  // namespace
}  // namespace ferry::directory
