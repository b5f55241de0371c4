#include "transport/directory/testing/etcd_server.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "transport/clock.h"
#include "transport/directory/http.h"
#include "transport/net/socket.h"

extern char** environ;

namespace ferry::directory::testing {
namespace {

uint64_t now_ns() { return SteadyClock().now_ns(); }

// A loopback port nobody listens on now. etcd binds it a moment later; another process
// could take it in between, so start() tries a few times.
Result<uint16_t> free_port() {
  auto fd = net::listen_on("127.0.0.1", 0);
  if (!fd.ok()) return fd.error();
  auto port = net::local_port(*fd);
  ::close(*fd);
  return port;
}

// Whether etcd at `address` answers a v3 read.
bool answers(const std::string& address, uint16_t port) {
  auto fd = net::connect_to(*net::parse_ipv4("127.0.0.1"), port, 500'000'000);
  if (!fd.ok()) return false;
  auto response = http_post(*fd, address, "/v3/kv/range", "{\"key\":\"AA==\"}", now_ns() + 1'000'000'000, 1 << 20);
  ::close(*fd);
  return response.ok() && response->status == 200;
}

std::string tail_of(const std::string& path) {
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > 2000 ? text.substr(text.size() - 2000) : text;
}

}  // namespace

Result<std::unique_ptr<EtcdServer>> EtcdServer::start() {
  if (::access(kBinary, X_OK) != 0) {
    return make_error(ErrorCode::kUnavailable, std::string(kBinary) +
                                                   " is missing: these tests need a real etcd; run "
                                                   "tools/install-deps.sh (it installs Debian's etcd-server)");
  }
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string pattern = std::string(tmp ? tmp : "/tmp") + "/etcd.XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    return make_error(ErrorCode::kUnavailable, "cannot make a folder like " + pattern);
  }
  const std::string folder = pattern;
  std::string last_failure;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto client_port = free_port();
    auto peer_port = free_port();
    if (!client_port.ok() || !peer_port.ok() || *client_port == *peer_port) continue;
    const std::string address = "127.0.0.1:" + std::to_string(*client_port);
    const std::string client_url = "http://" + address;
    const std::string peer_url = "http://127.0.0.1:" + std::to_string(*peer_port);
    const std::string data = folder + "/data" + std::to_string(attempt);
    const std::string log = folder + "/etcd" + std::to_string(attempt) + ".log";
    std::vector<std::string> args = {kBinary,
                                     "--data-dir", data,
                                     "--name", "n0",
                                     "--listen-client-urls", client_url,
                                     "--advertise-client-urls", client_url,
                                     "--listen-peer-urls", peer_url,
                                     "--initial-advertise-peer-urls", peer_url,
                                     "--initial-cluster", "n0=" + peer_url};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, kBinary, &files, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    if (spawned != 0) {
      std::filesystem::remove_all(folder);
      return make_error(ErrorCode::kUnavailable, std::string("cannot start ") + kBinary + ": " + std::strerror(spawned));
    }
    std::unique_ptr<EtcdServer> server(new EtcdServer(pid, address, folder));
    const uint64_t deadline = now_ns() + kReadyTimeoutMs * 1'000'000;
    bool exited = false;
    while (now_ns() < deadline) {
      if (answers(address, *client_port)) return server;
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        server->pid_ = 0;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    last_failure = std::string("etcd ") + (exited ? "exited" : "did not answer within " + std::to_string(kReadyTimeoutMs) + " ms") +
                   " on " + address + "; its log ends:\n" + tail_of(log);
    server->folder_.clear();  // keep the folder for the next attempt
    server->stop();
    if (!exited) break;  // a port taken by someone else makes etcd exit; anything else will not get better
  }
  std::filesystem::remove_all(folder);
  return make_error(ErrorCode::kUnavailable, last_failure.empty() ? "no free ports for etcd" : last_failure);
}

void EtcdServer::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
  }
  if (!folder_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
    folder_.clear();
  }
}

EtcdServer::~EtcdServer() { stop(); }

}  // namespace ferry::directory::testing
