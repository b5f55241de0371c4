// Peers as the engine tracks them: connection state, one endpoint per rail, the pieces
// waiting for the connection, the counter of notifications that came from the peer and
// the control channel to it. A peer is connected lazily (docs/engine.md, "Peers and
// connection"); removing one keeps its entry, marked removed, so that late completions
// of its endpoints still find it, and adding it again makes a new entry.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "transport/engine/control_channel.h"
#include "transport/engine/engine.h"

namespace ferry::engine_internal {

// Receive buffers carry this bit in their work request cookie, probes (liveness.cc) the
// next with the peer's index; sends carry a piece's.
inline constexpr uint64_t kRecvCookie = 1ull << 63;
inline constexpr uint64_t kProbeCookie = 1ull << 62;

struct PeerRail {
  std::unique_ptr<Endpoint> endpoint;
  bool up = false;
  uint32_t posted = 0;
  uint32_t cq = 0;            // the rail's completion queue it reports to
  uint32_t cq_entries = 0;    // the room it claimed there; 0 without an endpoint
  uint64_t queued_bytes = 0;
  std::deque<uint32_t> queue;  // pieces waiting for room in the send queue
  bool submit_due = false;     // completions freed room: submit once their batch is handled
  bool probing = false;        // a probe is posted (counted in `posted`), its completion not yet seen
  std::string down_why;        // why the rail went down for the peer, for the error that ends it
  std::vector<uint8_t> recv_memory;
  std::unique_ptr<MemoryRegion> recv_region;
};

// kDead: no rail reached it while probing was on (liveness.cc); its endpoints are gone,
// as for a removed peer, but it keeps its name until it reconnects or is removed.
enum class PeerState : uint8_t { kIdle, kConnecting, kReady, kRemoved, kDead };

struct Peer {
  std::string name;
  PeerState state = PeerState::kIdle;
  std::vector<PeerRail> rails;
  uint32_t usable_rails = 0;
  uint64_t incarnation = 0;         // ours, in our hello
  uint64_t remote_incarnation = 0;  // theirs, from their hello
  bool hello_sent = false;
  bool connected_locally = false;  // our endpoints are connected to its addresses
  bool handshake_failed = false;   // the exchange could not reach it: fail fast
  std::deque<uint32_t> waiting;    // pieces queued before the connection is up
  ImmCounter counter;
  struct Expectation {
    uint32_t transfer;
    uint32_t generation;
    uint16_t tag;
    bool keep;  // a wait on one index: its end keeps what landed (ImmCounter::expect_index)
  };
  std::vector<Expectation> expectations;  // transfers waiting on this peer's counter
  TransferCounters counters;
  uint64_t answered_ns = 0;  // when a probe to it last came back well (liveness.cc)
  ControlChannel control;
  std::string last_error;
};

class PeerTable {
 public:
  // The peer's index, or kNotFound if it is unknown or was removed.
  Result<uint32_t> find(const std::string& name) const;
  // The entry of that name, removed or not.
  std::optional<uint32_t> entry(const std::string& name) const;
  // The peer's index; a new entry with `rails` rails if it is unknown or was removed.
  uint32_t add(const std::string& name, size_t rails);

  Peer& operator[](uint32_t index) { return *peers_[index]; }
  const Peer& operator[](uint32_t index) const { return *peers_[index]; }
  uint32_t size() const { return static_cast<uint32_t>(peers_.size()); }

  // Which peer a rail's endpoint serves, for receive completions.
  void bind(uint32_t rail, uint32_t endpoint_id, uint32_t peer);
  void unbind(uint32_t rail, uint32_t endpoint_id);
  std::optional<uint32_t> owner(uint32_t rail, uint32_t endpoint_id) const;

 private:
  static uint64_t key(uint32_t rail, uint32_t endpoint_id) {
    return (static_cast<uint64_t>(rail) << 32) | endpoint_id;
  }
  std::vector<std::unique_ptr<Peer>> peers_;  // stable addresses: callbacks hold them
  std::map<std::string, uint32_t> by_name_;
  std::unordered_map<uint64_t, uint32_t> by_endpoint_;
};

}  // namespace ferry::engine_internal
