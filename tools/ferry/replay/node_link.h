// NodeLink: the control mailbox between the processes of one replay spread over the
// cluster's nodes, one process per node (docs/deployment.md). Each process's link is a
// DirectoryExchange named "node<N>"; through it the processes say hello (refusing a peer
// that runs another scenario), hand each other their ranks' region descriptors, meet at
// barriers between workloads, and hand over their verdicts at the end.
//
// Messages carry a kind and a sequence number and wait in an inbox until taken, so they
// may arrive in any order and before anyone waits for them. Every wait is bounded and
// keeps driving the caller's engines; a peer whose entry leaves the directory (its
// process ended) fails every wait for it at once, naming the node.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "transport/directory/directory.h"
#include "transport/directory/directory_exchange.h"
#include "transport/result.h"

namespace ferry::replay {

struct NodeLinkOptions {
  uint32_t node = 0;
  uint32_t nodes = 1;
  std::string directory;              // etcd://HOST:PORT or file:///PATH
  std::string cluster = "replay";     // the directory's namespace for this run
  std::string host = "127.0.0.1";     // the address this process's listeners bind and publish
  uint64_t peer_timeout_ms = 60'000;  // how long to wait for a peer that has not appeared or answered
  uint64_t fingerprint = 0;           // the scenario's (replay_fingerprint)
  std::string label;                  // what the fingerprint stands for, for a mismatch's message
};

// The hello a node sends: the node link's version, then what the node runs.
std::vector<uint8_t> hello_message(const NodeLinkOptions& mine);
// Whether node `from`'s hello matches this node's: the same link version, scenario
// (fingerprint) and node count; the error names both sides.
VoidResult check_hello(const NodeLinkOptions& mine, uint32_t from, const std::vector<uint8_t>& body);

class NodeLink {
 public:
  using Drive = std::function<void()>;

  static Result<std::unique_ptr<NodeLink>> open(const NodeLinkOptions& options);
  ~NodeLink();

  uint32_t node() const { return options_.node; }
  uint32_t nodes() const { return options_.nodes; }
  const std::string& host() const { return options_.host; }
  uint64_t peer_timeout_ms() const { return options_.peer_timeout_ms; }
  directory::Directory& directory() { return *directory_; }

  // Meets every other node: each must run the same scenario (fingerprint) over as many
  // nodes; an error names the node that differs or never came.
  VoidResult hello(const Drive& drive);

  // Sends (kind, seq, body) to each of `to` (other nodes; this node is skipped).
  VoidResult post(const std::vector<uint32_t>& to, const std::string& kind, uint64_t seq,
                  const std::vector<uint8_t>& body);
  // Reads what arrived into the inbox, renews the directory's lease, checks the peers'
  // liveness (each at most every few hundred ms). Cheap; call often.
  void pump();
  // (kind, seq) from `from`, taken out of the inbox, if it arrived.
  std::optional<std::vector<uint8_t>> take(uint32_t from, const std::string& kind, uint64_t seq);
  // Waits, pumping and driving, until take() gives (kind, seq) from each of `from`;
  // bounded by `deadline` (default: peer_timeout_ms from now). A node lost, or one that
  // said farewell (kFarewell) instead, fails it at once. `what` names the wait in errors.
  Result<std::map<uint32_t, std::vector<uint8_t>>> await(const std::vector<uint32_t>& from, const std::string& kind,
                                                         uint64_t seq, const Drive& drive, const std::string& what,
                                                         std::optional<std::chrono::steady_clock::time_point> deadline = {});
  // post() to `nodes` then await() from them: a barrier that also hands over a body.
  Result<std::map<uint32_t, std::vector<uint8_t>>> gather(const std::vector<uint32_t>& nodes, const std::string& kind,
                                                          uint64_t seq, const std::vector<uint8_t>& body,
                                                          const Drive& drive, const std::string& what,
                                                          std::optional<std::chrono::steady_clock::time_point> deadline = {});
  // A farewell's body: whether the node's ranks all passed, and its summary.
  static std::vector<uint8_t> farewell(bool ok, const std::string& summary);
  static std::pair<bool, std::string> read_farewell(const std::vector<uint8_t>& body);
  // Every node but this one.
  std::vector<uint32_t> others() const;

  // Why a peer is known lost ("node 1 left the directory ..."), or empty.
  const std::string& lost() const { return lost_; }
  // The kind of a node's last message: once it arrived, the node's departure is no loss.
  static constexpr const char* kFarewell = "done";
  // The kind of the barrier before each step (a workload), its number the sequence: a
  // node that posted a later step than this one's has left the current step, so a wait
  // for anything else from it fails at once rather than at the timeout.
  static constexpr const char* kStep = "step";
  void at_step(uint64_t step) { step_ = step; }

  static std::string name_of(uint32_t node) { return "node" + std::to_string(node); }

 private:
  using Clock = std::chrono::steady_clock;
  explicit NodeLink(const NodeLinkOptions& options) : options_(options) {}
  void check_liveness();

  NodeLinkOptions options_;
  std::unique_ptr<directory::Directory> directory_;
  std::unique_ptr<directory::DirectoryExchange> exchange_;
  std::map<std::tuple<uint32_t, std::string, uint64_t>, std::vector<uint8_t>> inbox_;
  std::vector<bool> seen_;      // [node]: said hello
  std::vector<bool> released_;  // [node]: finished; its departure is no loss
  std::vector<uint64_t> steps_;  // [node]: 1 + the latest step it posted; 0: none
  uint64_t step_ = 0;            // this node's current step
  std::string lost_;
  Clock::time_point next_check_{};
  Clock::time_point next_keep_alive_{};
};

}  // namespace ferry::replay
