// For the ipc provider's two-process tests: a forked child, pipes for the out-of-band
// exchange of addresses and keys, and bounded waits on completions and on the child.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "transport/ipc/ipc_provider.h"

namespace ferry::ipc::testing {

inline constexpr uint64_t kTimeoutNs = 10'000'000'000;
inline constexpr uint32_t kAllAccess = kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead;

// One side's objects, declared in reverse order of destruction.
struct Side {
  std::unique_ptr<Provider> provider;
  std::unique_ptr<ProtectionDomain> pd;
  std::unique_ptr<CompletionQueue> cq;
  std::unique_ptr<MemoryRegion> mr;
  std::unique_ptr<Endpoint> ep;
};

// Opens a provider with one endpoint; false on any error (the child reports it by exit code).
inline bool open_side(Side& s, EndpointConfig config = {}) {
  auto provider = open_provider();
  if (!provider.ok()) return false;
  s.provider = std::move(provider).value();
  auto pd = s.provider->device(0).create_protection_domain();
  auto cq = s.provider->device(0).create_completion_queue(256);
  if (!pd.ok() || !cq.ok()) return false;
  s.pd = std::move(pd).value();
  s.cq = std::move(cq).value();
  config.send_cq = config.recv_cq = s.cq.get();
  auto ep = s.pd->create_endpoint(config);
  if (!ep.ok()) return false;
  s.ep = std::move(ep).value();
  return true;
}

// What crosses the pipe: an endpoint address, and a region's address and key.
struct Card {
  uint8_t address[64] = {};
  uint64_t addr = 0;
  uint32_t rkey = 0;
};

// This side's card: its endpoint's address and, given `region` (in s.mr), where to write.
inline Card card_of(const Side& s, const void* region = nullptr) {
  Card card;
  const auto address = s.ep->address();
  std::memcpy(card.address, address.data(), address.size());
  if (region != nullptr) {
    card.addr = reinterpret_cast<uint64_t>(region);
    card.rkey = s.mr->rkey();
  }
  return card;
}

// A forked child that runs fn(to_parent, from_parent) and exits with what it returns;
// pid is -1 when the fork or a pipe failed.
struct Child {
  pid_t pid = -1;
  int from_child = -1;
  int to_child = -1;
};
inline Child fork_child(int (*fn)(int to_parent, int from_parent)) {
  int up[2], down[2];
  if (pipe(up) != 0 || pipe(down) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) _exit(fn(up[1], down[0]));
  return Child{pid, up[0], down[1]};
}

inline bool write_card(int fd, const Card& card) { return write(fd, &card, sizeof card) == sizeof card; }
inline bool read_card(int fd, Card* card) { return read(fd, card, sizeof *card) == sizeof *card; }

// The next completion of `cq`, driving progress; nullopt after the timeout.
inline std::optional<Completion> wait_one(Provider& provider, CompletionQueue& cq) {
  const uint64_t deadline = provider.clock().now_ns() + kTimeoutNs;
  Completion c;
  while (provider.clock().now_ns() < deadline) {
    auto n = cq.poll({&c, 1});
    if (!n.ok()) return std::nullopt;
    if (*n == 1) return c;
    provider.progress();
  }
  return std::nullopt;
}

// The child's exit status, or -1 when it did not exit within the timeout (then killed).
inline int wait_child(pid_t child) {
  for (int i = 0; i < 10'000; ++i) {
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    usleep(1000);
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  return -1;
}

}  // namespace ferry::ipc::testing
