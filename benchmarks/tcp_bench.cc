// The tcp provider's write throughput against a plain TCP stream on the same path, in
// one run, batch by batch.
//
//   bazel run --config=opt //benchmarks:tcp_bench
//
// BM_TcpWrite/<message bytes>/<connections>: each iteration moves the same bytes twice,
//   timed apart: once as ferry tcp writes between two providers (a window of 16
//   outstanding, each completion meaning the bytes are in the target's memory; messages
//   above 1 MiB cut into 1 MiB chunks over the connections), once as
//   a plain blocking send() stream into a reader thread (until it read them all).
//   Counters: tcp_GBps, plain_GBps and vs_plain = tcp / plain (goal >= 0.9).
//
// Between two network namespaces joined by a veth pair (benchmarks/tcp_netns.sh makes
// them): --netns_a=NAME --host_a=IP for the writing side, --netns_b=NAME --host_b=IP for
// the target and the plain stream's reader. Without them both sides are on 127.0.0.1.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "transport/tcp/tcp_provider.h"

namespace {

using namespace ferry;

// Where each side lives: a network namespace ("" for this process's own) and the
// address it listens on.
struct Place {
  std::string netns;
  std::string host = "127.0.0.1";
};
Place g_side[2];

// Moves the calling thread into `side`'s namespace: sockets made now belong to it.
void enter(int side) {
  static const int home = open("/proc/self/ns/net", O_RDONLY);
  const std::string& ns = g_side[side].netns;
  const int fd = ns.empty() ? home : open(("/var/run/netns/" + ns).c_str(), O_RDONLY);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) throw std::runtime_error("cannot enter network namespace " + ns);
  if (fd != home) close(fd);
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

constexpr uint64_t kBatchBytes = 64 << 20;
constexpr size_t kWindow = 16;

// A plain stream: one connection, a thread reading everything into a ring of kWindow
// message slots, as the tcp writes land in kWindow slots (the same memory footprint).
class PlainStream {
 public:
  explicit PlainStream(size_t message) : message_(message), buffer_(message * kWindow) {
    enter(1);
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, g_side[1].host.c_str(), &a.sin_addr);
    socklen_t len = sizeof a;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 1) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("plain stream: cannot listen on " + g_side[1].host);
    }
    enter(0);
    send_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(send_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("plain stream: connect");
    recv_fd_ = accept(listen_fd_, nullptr, nullptr);
    const int one = 1;
    setsockopt(send_fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    reader_ = std::thread([this] {
      size_t at = 0;
      for (;;) {
        const ssize_t r = recv(recv_fd_, buffer_.data() + at, buffer_.size() - at, 0);
        if (r <= 0) return;
        at = (at + static_cast<size_t>(r)) % buffer_.size();
        received_.fetch_add(static_cast<uint64_t>(r), std::memory_order_release);
      }
    });
  }
  ~PlainStream() {
    shutdown(send_fd_, SHUT_WR);
    reader_.join();
    close(send_fd_);
    close(recv_fd_);
    close(listen_fd_);
  }
  // Sends `bytes` a message at a time from the slots of `src` in turn, and waits until the reader has them.
  void move(const std::vector<uint8_t>& src, uint64_t bytes) {
    const uint64_t target = sent_ + bytes;
    while (sent_ < target) {
      const size_t at = sent_ % src.size();
      const uint64_t n = std::min<uint64_t>({message_, src.size() - at, target - sent_});
      const ssize_t w = send(send_fd_, src.data() + at, n, MSG_NOSIGNAL);
      if (w <= 0) throw std::runtime_error("plain stream: send failed");
      sent_ += static_cast<uint64_t>(w);
    }
    while (received_.load(std::memory_order_acquire) < target) std::this_thread::yield();
  }

 private:
  int listen_fd_ = -1, send_fd_ = -1, recv_fd_ = -1;
  size_t message_;
  std::vector<uint8_t> buffer_;
  uint64_t sent_ = 0;
  std::atomic<uint64_t> received_{0};
  std::thread reader_;
};

// Two tcp providers with an RC endpoint pair and a window of message slots each side.
struct TcpPair {
  TcpPair(size_t message, uint32_t connections) : message(message) {
    for (int side = 0; side < 2; ++side) {
      tcp::TcpOptions o;
      o.host = g_side[side].host;
      o.connections = connections;
      enter(side);
      provider[side] = must(tcp::open_provider(o));
      Device& device = provider[side]->device(0);
      pd[side] = must(device.create_protection_domain());
      cq[side] = must(device.create_completion_queue(1024));
      memory[side].assign(message * kWindow, static_cast<uint8_t>(side + 1));
      mr[side] = must(pd[side]->register_memory(memory[side].data(), memory[side].size(),
                                                kAccessLocalWrite | kAccessRemoteWrite, MemoryKind::kHost));
      EndpointConfig config;
      config.send_cq = config.recv_cq = cq[side].get();
      ep[side] = must(pd[side]->create_endpoint(config));
    }
    // Each side's connections are made from its own namespace.
    enter(0);
    must(ep[0]->connect(ep[1]->address()));
    enter(1);
    must(ep[1]->connect(ep[0]->address()));
    enter(0);
  }
  ~TcpPair() {
    for (auto& e : ep) e.reset();
    for (auto& m : mr) m.reset();
    for (auto& c : cq) c.reset();
    for (auto& d : pd) d.reset();
  }

  // `bytes` as writes of `message`, kWindow outstanding; every completion checked.
  void move(uint64_t bytes) {
    const uint64_t count = bytes / message;
    uint64_t posted = 0, done = 0;
    Completion batch[32];
    while (done < count) {
      while (posted < count && posted - done < kWindow) {
        const size_t slot = posted % kWindow;
        Sge sge{reinterpret_cast<uint64_t>(memory[0].data() + slot * message), static_cast<uint32_t>(message),
                mr[0]->lkey()};
        WorkRequest wr;
        wr.cookie = posted;
        wr.sg_list = &sge;
        wr.num_sge = 1;
        wr.remote_addr = reinterpret_cast<uint64_t>(memory[1].data() + slot * message);
        wr.rkey = mr[1]->rkey();
        must(ep[0]->post_send({&wr, 1}));
        ++posted;
      }
      const size_t n = must(cq[0]->poll(batch));
      for (size_t i = 0; i < n; ++i) {
        if (batch[i].status != Status::kSuccess) throw std::runtime_error("tcp write failed");
      }
      done += n;
      // Nothing yet: sleep a little rather than spin, as a waiting application would;
      // the providers' event loops need the cores (16 outstanding keep them busy).
      if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  size_t message;
  std::unique_ptr<Provider> provider[2];
  std::unique_ptr<ProtectionDomain> pd[2];
  std::unique_ptr<CompletionQueue> cq[2];
  std::vector<uint8_t> memory[2];
  std::unique_ptr<MemoryRegion> mr[2];
  std::unique_ptr<Endpoint> ep[2];
};

void BM_TcpWrite(benchmark::State& state) {
  const size_t message = static_cast<size_t>(state.range(0));
  const auto connections = static_cast<uint32_t>(state.range(1));
  TcpPair ferry_pair(message, connections);
  PlainStream plain(message);
  const std::vector<uint8_t> src(message * kWindow, 7);
  double tcp_s = 0, plain_s = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    ferry_pair.move(kBatchBytes);
    const double t = seconds_since(t0);
    tcp_s += t;
    t0 = std::chrono::steady_clock::now();
    plain.move(src, kBatchBytes);
    plain_s += seconds_since(t0);
    state.SetIterationTime(t);
  }
  const double bytes = static_cast<double>(kBatchBytes) * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["tcp_GBps"] = bytes / tcp_s / 1e9;
  state.counters["plain_GBps"] = bytes / plain_s / 1e9;
  state.counters["vs_plain"] = plain_s / tcp_s;
}

BENCHMARK(BM_TcpWrite)
    ->ArgNames({"bytes", "connections"})
    ->Args({4 << 20, 1})
    ->Args({4 << 20, 4})  // four 1 MiB chunks, one per connection
    ->Args({1 << 20, 1})
    ->Args({1 << 20, 4})
    ->Args({64 << 10, 1})
    ->Args({64 << 10, 4})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace

int main(int argc, char** argv) {
  // Our own flags first; the rest are Google Benchmark's.
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&arg](const char* flag) { return arg.substr(std::strlen(flag)); };
    if (arg.rfind("--netns_a=", 0) == 0) {
      g_side[0].netns = value("--netns_a=");
    } else if (arg.rfind("--netns_b=", 0) == 0) {
      g_side[1].netns = value("--netns_b=");
    } else if (arg.rfind("--host_a=", 0) == 0) {
      g_side[0].host = value("--host_a=");
    } else if (arg.rfind("--host_b=", 0) == 0) {
      g_side[1].host = value("--host_b=");
    } else {
      rest.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
