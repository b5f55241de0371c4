// Proxy: one host thread that takes descriptors from channels (ring.h, channel.h), which
// kernels or host threads fill, and posts them as engine transfers on any provider.
//
// The engine is handed over: from start() until stop() returns, the proxy's thread is
// the only one that calls the engine (an Engine is not thread-safe). Set up before
// start() (register the local window, import the peers' regions); take it back after
// stop().
//
// Each descriptor becomes Engine::write (put, put-signal; put-signal carries a
// notification to the peer) or Engine::notify (signal). When it is done, the proxy adds
// the descriptor's value to its signal's counter (put-signal, signal) and advances the
// channel's completed watermark; counters only grow and are written with release
// semantics, so a kernel that sees a counter also sees the data it stands for. A bad
// descriptor or a failed transfer sets the channel's status word (its first error) and is
// kept in errors(); nothing throws. docs/device-api.md has the design.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "transport/engine/engine.h"
#include "transport/proxy/channel.h"
#include "transport/proxy/ring.h"
#include "transport/result.h"

namespace ferry::proxy {

// A peer's window: where its remote offsets point.
struct PeerWindow {
  std::string name;  // the peer's engine name; empty: no peer of that rank
  RemoteRegion region;
  uint64_t bytes = 0;
};

struct ProxyConfig {
  // Where local offsets point: memory registered with the engine before start().
  const void* local_window = nullptr;
  uint64_t local_bytes = 0;
  std::vector<PeerWindow> peers;  // index: the descriptor's peer rank
  // Put-signal and signal notify the peer with tag signal_tag + signal, index n for the
  // n-th notification of that (peer, signal) (mod 65536): the peer counts them with
  // Engine::expect.
  uint16_t signal_tag = 0xf000;
  uint32_t max_in_flight = 1024;    // transfers posted and not yet done
  uint32_t batch = 64;              // descriptors taken from one channel per turn
};

struct ProxyError {
  size_t channel = 0;  // in the order of add_channel
  uint64_t ticket = 0;
  Descriptor descriptor;
  Status status = Status::kOk;
  Error error{ErrorCode::kInternal, ""};
};

struct ProxyStats {
  uint64_t taken = 0;   // descriptors taken from the rings
  uint64_t done = 0;    // completed well
  uint64_t failed = 0;  // refused or failed
};

class Proxy {
 public:
  Proxy(Engine& engine, ProxyConfig config);
  ~Proxy();  // stop() with its default bound
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // Before start(); the channel must outlive the proxy. Refused when the channel's
  // signals do not fit in the notification tags above signal_tag.
  VoidResult add_channel(Channel& channel);
  // Starts the thread; from now on it drives the engine. A proxy without channels only
  // drives its engine (the target side of a transfer).
  VoidResult start();
  // Stops taking descriptors, lets transfers in flight finish for at most `bound`, ends
  // the thread and hands the engine back. A channel left with descriptors not done gets
  // status kStopped and an error; callbacks of transfers still in flight then do nothing
  // once the proxy is gone.
  void stop(std::chrono::nanoseconds bound = std::chrono::seconds(1));
  bool running() const { return thread_.joinable(); }

  std::vector<ProxyError> errors() const;
  ProxyStats stats() const;

 private:
  struct Core;
  std::shared_ptr<Core> core_;
  std::thread thread_;
};

}  // namespace ferry::proxy
