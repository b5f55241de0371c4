// A real etcd for tests: /usr/bin/etcd on free loopback ports, its data in a fresh
// temporary folder, started and ready (it answers a v3 request) within a bound, killed
// with SIGKILL on stop() or destruction. A machine without etcd is an error that says
// how to install it, so that a test fails rather than skips.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "transport/result.h"

namespace ferry::directory::testing {

class EtcdServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";
  static constexpr uint64_t kReadyTimeoutMs = 20'000;

  // Starts etcd and waits until it answers.
  static Result<std::unique_ptr<EtcdServer>> start();
  ~EtcdServer();

  // "127.0.0.1:PORT": where its clients connect.
  const std::string& address() const { return address_; }
  std::string url() const { return "etcd://" + address_; }
  // SIGKILL, then reaped; its folder is removed. Idempotent.
  void stop();

 private:
  EtcdServer(pid_t pid, std::string address, std::string folder)
      : pid_(pid), address_(std::move(address)), folder_(std::move(folder)) {}

  pid_t pid_;
  std::string address_;
  std::string folder_;
};

}  // namespace ferry::directory::testing
