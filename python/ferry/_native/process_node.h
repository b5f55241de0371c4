// ProcessNode: this process's node of a cluster whose other nodes run in other processes
// (or hosts). It holds the node's provider (tcp or verbs), its engine, named rank<node>
// as in an in-process cluster, and the engine's exchange: a DirectoryExchange, which
// publishes this engine's address in the directory and finds the peers' there lazily.
//
// Not thread-safe: Core's lock serialises every call, like the EngineCluster's.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "transport/directory/directory.h"
#include "transport/directory/directory_exchange.h"
#include "transport/engine/engine.h"

namespace ferry::python {

struct ProcessNodeOptions {
  std::string provider = "tcp";  // "tcp" or "verbs": providers of one process, real time
  uint32_t node = 0;             // this process's rank
  uint32_t nodes = 2;            // ranks in the cluster, this one included
  std::string directory;         // file:///PATH or etcd://HOST:PORT[,...]
  std::string cluster = "ferry";  // the name every key of this cluster lives under
  std::string host = "127.0.0.1";  // the address peers reach this process at (tcp, exchange)
  std::string device;              // verbs: only devices whose name contains this
};

class ProcessNode {
 public:
  // Opens the directory, the provider, the exchange and the engine, in that order; an
  // error names the step that failed. A peer that is not in the directory within
  // `lookup_timeout_ms` of the first message to it is given up on.
  static Result<std::unique_ptr<ProcessNode>> open(const ProcessNodeOptions& options, const EngineConfig& config,
                                                   uint64_t lookup_timeout_ms);
  ~ProcessNode();

  uint32_t rank() const { return options_.node; }
  Engine& engine() { return *engine_; }
  // Drives the engine once; false when there was nothing to do.
  bool progress();
  uint64_t now_ns() const { return engine_->clock().now_ns(); }

  // Application entries, apart from the exchange's: publish and look up bytes under
  // `key` (base64 in the directory, whose values are text).
  VoidResult publish(const std::string& key, const std::string& bytes);
  // The bytes under `key`, or nothing while no live process has published them. One
  // look, never a wait: callers poll, letting go of Core's lock in between.
  Result<std::optional<std::string>> lookup(const std::string& key);
  // Whether rank `peer`'s engine is in the directory.
  Result<bool> peer_up(size_t peer);
  std::string describe() const { return directory_->describe(); }

 private:
  explicit ProcessNode(ProcessNodeOptions options) : options_(std::move(options)) {}

  ProcessNodeOptions options_;
  // Declaration order is destruction order reversed: the engine goes first, then its
  // exchange (which withdraws its address), the provider and the directory.
  std::unique_ptr<directory::Directory> directory_;
  std::unique_ptr<Provider> provider_;
  std::unique_ptr<directory::DirectoryExchange> exchange_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace ferry::python
