// Directory: where processes of one ferry cluster find each other across processes and
// hosts (docs/deployment.md).
//
// A process publishes small entries (an engine's exchange address "host:port", a node's
// readiness) under the cluster's name and looks up the others' lazily. Entries a process
// publishes live as long as the process: with etcd they hang on a lease the process keeps
// alive, so a process that dies is gone from the directory within the lease's TTL.
//
// Two implementations, chosen by URL (open_directory):
//   etcd://HOST:PORT[,HOST:PORT...]   etcd's v3 API (Debian's etcd-server): leases, the
//                                     liveness every peer sees
//   file:///PATH                      files in a folder every process can read (processes
//                                     of one host: `ferry replay --launch`); no liveness
// Every call is bounded by a timeout and fails with an error naming the directory and the
// key; none blocks for longer.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "transport/result.h"

namespace ferry::directory {

struct DirectoryOptions {
  std::string cluster = "ferry";        // every key lives under /ferry/<cluster>/
  uint64_t ttl_ms = 5000;               // a dead process's entries vanish within this (etcd)
  uint64_t request_timeout_ms = 2000;   // one request to the directory
};

class Directory {
 public:
  virtual ~Directory() = default;

  // Publishes `value` under `key`, owned by this process. Fails with kFailedPrecondition when
  // another live process owns the key (a rank registered twice), naming the key.
  virtual VoidResult publish(const std::string& key, const std::string& value) = 0;
  // Removes one of this process's entries.
  virtual VoidResult withdraw(const std::string& key) = 0;
  // The value under `key`, or nothing when no live process has published it.
  virtual Result<std::optional<std::string>> lookup(const std::string& key) = 0;
  // Waits (polling) until `key` is published, at most `timeout_ms`; kDeadlineExceeded names the key.
  virtual Result<std::string> wait_for(const std::string& key, uint64_t timeout_ms) = 0;
  // Every live entry whose key starts with `prefix`, by key.
  virtual Result<std::map<std::string, std::string>> list(const std::string& prefix) = 0;
  // Keeps this process's entries alive (renews the lease when it is due); cheap to call
  // often. An error says the entries could not be kept (the directory is unreachable).
  virtual VoidResult keep_alive() = 0;
  // Withdraws every entry of this process (at exit; a crash lets the lease expire).
  virtual void close() = 0;
  // "etcd://127.0.0.1:2379 (cluster demo)": for error messages.
  virtual std::string describe() const = 0;
};

// Opens the directory a URL names (see above).
Result<std::unique_ptr<Directory>> open_directory(const std::string& url, const DirectoryOptions& options = {});

}  // namespace ferry::directory
