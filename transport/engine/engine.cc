#include "transport/engine/engine.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <queue>

namespace ferry {
namespace {

// The handshake over the exchange: each side sends a hello with its endpoint addresses;
// on a hello, a side connects its endpoints and answers "connected". A peer is ready
// when we connected to it and it told us it connected to us: only then may a write
// reach an endpoint that accepts it.
constexpr uint32_t kHelloMagic = 0x4c454846;      // "FHEL"
constexpr uint32_t kConnectedMagic = 0x4e4f4346;  // "FCON"
constexpr uint32_t kMessageMagic = 0x47534d46;  // "FMSG"
constexpr uint8_t kHelloVersion = 1;
constexpr uint64_t kRecvCookie = 1ull << 63;
constexpr size_t kMessageHeader = 4 + 8 + 4;  // magic, sequence number, payload length
constexpr size_t kPostBatch = 64;
constexpr uint32_t kMaxRails = 64;

template <typename T>
void put(std::vector<uint8_t>& out, T value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(T));
}

// Reads T at *offset if it fits; advances the offset.
template <typename T>
bool take(std::span<const uint8_t> in, size_t* offset, T* value) {
  if (in.size() < *offset || in.size() - *offset < sizeof(T)) return false;
  std::memcpy(value, in.data() + *offset, sizeof(T));
  *offset += sizeof(T);
  return true;
}

bool retriable(Status status) {
  return status == Status::kRetryExceeded || status == Status::kFlushed ||
         status == Status::kRnrRetryExceeded;
}

}  // namespace

enum class PieceKind : uint8_t { kData, kNotify, kMessage };

struct Piece {
  uint32_t generation = 0;
  bool live = false;
  PieceKind kind = PieceKind::kData;
  uint32_t transfer = 0;
  uint32_t peer = 0;
  uint32_t rail = 0;
  uint32_t first_sge = 0;  // into the transfer's sges
  uint32_t num_sge = 0;
  uint64_t remote_addr = 0;
  uint32_t length = 0;
  uint32_t imm = 0;
  bool with_imm = false;
  uint32_t control_slot = 0;
};

struct Transfer {
  uint32_t generation = 0;
  bool live = false;
  bool finished = false;  // `done` ran
  uint32_t outstanding = 0;  // pieces and expectations not yet settled
  TransferDone done;
  TransferResult error{true, ErrorCode::kInternal, {}};
  Registration* local = nullptr;
  uint32_t remote_region = 0;
  std::vector<Sge> sges;  // lkeys filled in per rail at posting
  std::optional<Notify> notify;
  std::vector<uint32_t> notify_peers;  // notified once the data is in place
  std::string target;  // the (first) peer's name, for error messages
  bool several_targets = false;
  bool notifying = false;
};

struct PeerRail {
  std::unique_ptr<Endpoint> endpoint;
  bool up = false;
  uint32_t posted = 0;
  uint64_t queued_bytes = 0;
  std::deque<uint32_t> queue;  // pieces waiting for room in the send queue
  std::vector<uint8_t> recv_memory;
  std::unique_ptr<MemoryRegion> recv_region;
};

enum class PeerState : uint8_t { kIdle, kConnecting, kReady, kRemoved };

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
  std::deque<uint32_t> waiting;  // pieces queued before the connection is up
  ImmCounter counter;
  struct Expectation {
    uint32_t transfer;
    uint32_t generation;
    uint16_t tag;
  };
  std::vector<Expectation> expectations;  // transfers waiting on this peer's counter
  TransferCounters counters;
  uint64_t next_send_seq = 0;
  uint64_t next_recv_seq = 0;
  std::map<uint64_t, std::vector<uint8_t>> early;  // messages that overtook others
  std::vector<uint8_t> control_memory;
  Registration* control_region = nullptr;
  std::vector<uint32_t> free_slots;
  std::string last_error;
};

struct Rail {
  Device* device = nullptr;
  std::unique_ptr<ProtectionDomain> pd;
  std::unique_ptr<CompletionQueue> cq;
  double gbps = 0;
  uint32_t max_send_wr = 0;
  uint32_t max_sge = 0;
  uint64_t max_message = 0;
  TransferCounters counters;
};

struct Deadline {
  uint64_t time_ns;
  uint32_t transfer;
  uint32_t generation;
  bool operator>(const Deadline& o) const { return time_ns > o.time_ns; }
};

struct Engine::Impl {
  Engine& engine;
  std::vector<Rail> rails;
  EndpointKind kind = EndpointKind::kRc;
  std::unique_ptr<MemoryRegistry> registry;
  std::vector<std::unique_ptr<Peer>> peers;
  std::map<std::string, uint32_t> peer_index;
  std::unordered_map<uint64_t, std::pair<uint32_t, uint32_t>> endpoint_owner;  // (rail, id) -> (peer, rail)
  std::vector<std::pair<uint32_t, RegionDescriptor>> remote_regions;  // (peer, descriptor)
  std::vector<Piece> pieces;
  std::vector<uint32_t> free_pieces;
  std::vector<Transfer> transfers;
  std::vector<uint32_t> free_transfers;
  size_t live_transfers = 0;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines;
  uint64_t incarnations = 0;
  uint64_t transfers_done = 0;
  uint64_t transfers_failed = 0;
  // Scratch for posting, kept to avoid allocating per batch.
  std::vector<WorkRequest> batch;
  std::vector<Sge> batch_sges;

  explicit Impl(Engine& e) : engine(e) {}

  const EngineConfig& config() const { return engine.config_; }
  uint64_t now() const { return engine.provider_.clock().now_ns(); }

  // ---- pools ----
  uint32_t new_transfer(TransferDone done) {
    uint32_t index;
    if (!free_transfers.empty()) {
      index = free_transfers.back();
      free_transfers.pop_back();
    } else {
      index = static_cast<uint32_t>(transfers.size());
      transfers.emplace_back();
    }
    Transfer& t = transfers[index];
    const uint32_t generation = t.generation + 1;
    t = Transfer{};
    t.generation = generation;
    t.live = true;
    t.done = std::move(done);
    ++live_transfers;
    deadlines.push(Deadline{now() + config().transfer_timeout_ns, index, generation});
    return index;
  }
  TransferId transfer_id(uint32_t index) const {
    return (static_cast<uint64_t>(transfers[index].generation) << 32) | index;
  }

  uint32_t new_piece(PieceKind kind, uint32_t transfer, uint32_t peer) {
    uint32_t index;
    if (!free_pieces.empty()) {
      index = free_pieces.back();
      free_pieces.pop_back();
    } else {
      index = static_cast<uint32_t>(pieces.size());
      pieces.emplace_back();
    }
    Piece& p = pieces[index];
    const uint32_t generation = p.generation + 1;
    p = Piece{};
    p.generation = generation;
    p.live = true;
    p.kind = kind;
    p.transfer = transfer;
    p.peer = peer;
    ++transfers[transfer].outstanding;
    Transfer& t = transfers[transfer];
    if (t.target.empty()) {
      t.target = peers[peer]->name;
    } else if (t.target != peers[peer]->name) {
      t.several_targets = true;
    }
    return index;
  }
  void free_piece(uint32_t index) {
    pieces[index].live = false;
    free_pieces.push_back(index);
  }

  // ---- transfers settle here ----
  void fail_transfer(uint32_t index, TransferResult why) {
    Transfer& t = transfers[index];
    if (t.error.ok) t.error = std::move(why);
  }

  // A piece or expectation of the transfer settled.
  void settle(uint32_t index) {
    Transfer& t = transfers[index];
    --t.outstanding;
    if (t.outstanding > 0) return;
    if (t.error.ok && !t.notifying && !t.notify_peers.empty() && !t.finished) {
      t.notifying = true;  // the data is in place: now tell the targets
      for (uint32_t peer : t.notify_peers) {
        const uint32_t p = new_piece(PieceKind::kNotify, index, peer);
        pieces[p].with_imm = true;
        pieces[p].imm = Immediate::encode(t.notify->tag, t.notify->index);
        enqueue(p);
      }
      return;
    }
    finish(index);
  }

  void finish(uint32_t index) {
    Transfer& t = transfers[index];
    if (!t.finished) {
      t.finished = true;
      if (t.error.ok) {
        ++transfers_done;
      } else {
        ++transfers_failed;
      }
      TransferDone done = std::move(t.done);
      const TransferResult result = t.error;
      if (t.outstanding == 0) release_transfer(index);
      if (done) done(result);
      return;
    }
    if (t.outstanding == 0) release_transfer(index);
  }

  void release_transfer(uint32_t index) {
    Transfer& t = transfers[index];
    if (!t.live) return;
    if (t.local != nullptr && t.local->in_flight > 0) --t.local->in_flight;
    t.live = false;
    t.done = nullptr;
    t.sges.clear();
    t.notify_peers.clear();
    --live_transfers;
    free_transfers.push_back(index);
  }

  void expire_deadlines() {
    const uint64_t t_now = now();
    while (!deadlines.empty() && deadlines.top().time_ns <= t_now) {
      const Deadline d = deadlines.top();
      deadlines.pop();
      Transfer& t = transfers[d.transfer];
      if (!t.live || t.generation != d.generation || t.finished) continue;
      fail_transfer(d.transfer, TransferResult::failure(ErrorCode::kDeadlineExceeded,
                                        "transfer" +
                                            (t.target.empty() || t.several_targets ? "" : " to peer '" + t.target + "'") +
                                            " not done within " +
                                            std::to_string(config().transfer_timeout_ns / 1000000) +
                                            " ms"));
      cancel_expectations(d.transfer);
      finish(d.transfer);  // pieces still out settle later and free it
    }
  }

  // ---- expectations: transfers that wait for notifications from a peer ----
  // Adds to transfer t the wait for `count` notifications with `tag` from `peer`.
  void add_expectation(uint32_t t, uint32_t peer_index_value, uint16_t tag, uint32_t count) {
    Peer& peer = *peers[peer_index_value];
    const uint32_t generation = transfers[t].generation;
    // Recorded first: the counter calls back at once when everything already arrived.
    ++transfers[t].outstanding;
    peer.expectations.push_back({t, generation, tag});
    const bool accepted = peer.counter.expect(tag, count, [this, t, generation, peer_index_value, tag] {
      // Runs inside on_recv, or inside expect() when everything had already arrived:
      // the transfer settles from progress() either way.
      if (forget_expectation(peer_index_value, t, generation, tag)) deferred_settles.push_back(t);
    });
    if (!accepted) {
      peer.expectations.pop_back();
      --transfers[t].outstanding;
      fail_transfer(t, TransferResult::failure(ErrorCode::kInvalidArgument,
                               "tag " + std::to_string(tag) + " of peer '" + peer.name +
                                   "' already has an expectation, or count " + std::to_string(count) +
                                   " is not in [1, 65536]"));
    }
  }

  // Drops the record of one expectation and frees its tag; false if it was not there.
  bool forget_expectation(uint32_t peer_index_value, uint32_t t, uint32_t generation, uint16_t tag) {
    auto& list = peers[peer_index_value]->expectations;
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i].transfer == t && list[i].generation == generation && list[i].tag == tag) {
        list.erase(list.begin() + static_cast<long>(i));
        peers[peer_index_value]->counter.release(tag);
        return true;
      }
    }
    return false;
  }

  // A transfer that gives up (deadline) stops waiting: its tags are freed and its
  // expectations settle.
  void cancel_expectations(uint32_t t) {
    const uint32_t generation = transfers[t].generation;
    for (uint32_t p = 0; p < peers.size(); ++p) {
      std::vector<uint16_t> tags;
      for (const auto& e : peers[p]->expectations) {
        if (e.transfer == t && e.generation == generation) tags.push_back(e.tag);
      }
      for (uint16_t tag : tags) {
        forget_expectation(p, t, generation, tag);
        --transfers[t].outstanding;
      }
    }
  }

  // Every expectation on the peer fails (it was removed or reconnected).
  void fail_expectations(uint32_t peer_index_value, const std::string& why) {
    auto list = std::move(peers[peer_index_value]->expectations);
    peers[peer_index_value]->expectations.clear();
    for (const auto& e : list) {
      peers[peer_index_value]->counter.release(e.tag);
      Transfer& t = transfers[e.transfer];
      if (!t.live || t.generation != e.generation) continue;
      fail_transfer(e.transfer, TransferResult::failure(ErrorCode::kUnavailable, why));
      deferred_settles.push_back(e.transfer);
    }
  }

  // ---- peers ----
  Result<uint32_t> find_peer(const std::string& name) const {
    auto it = peer_index.find(name);
    if (it == peer_index.end() || peers[it->second]->state == PeerState::kRemoved) {
      return make_error(ErrorCode::kNotFound, "unknown peer '" + name + "' (add_peer first)");
    }
    return it->second;
  }

  uint32_t add_peer(const std::string& name) {
    auto it = peer_index.find(name);
    if (it != peer_index.end() && peers[it->second]->state != PeerState::kRemoved) return it->second;
    auto peer = std::make_unique<Peer>();
    peer->name = name;
    peer->rails.resize(rails.size());
    const uint32_t index = static_cast<uint32_t>(peers.size());
    peers.push_back(std::move(peer));
    peer_index[name] = index;
    return index;
  }

  VoidResult create_endpoints(uint32_t peer_index_value) {
    Peer& peer = *peers[peer_index_value];
    for (uint32_t r = 0; r < rails.size(); ++r) {
      Rail& rail = rails[r];
      PeerRail& pr = peer.rails[r];
      EndpointConfig ec = config().endpoint;
      ec.kind = kind;
      ec.send_cq = rail.cq.get();
      ec.recv_cq = rail.cq.get();
      ec.max_send_wr = rail.max_send_wr;
      ec.max_recv_wr = config().recv_buffers;
      auto endpoint = rail.pd->create_endpoint(ec);
      if (!endpoint.ok()) return endpoint.error();
      pr.endpoint = std::move(endpoint).value();
      pr.recv_memory.assign(static_cast<size_t>(config().recv_buffers) * config().control_bytes, 0);
      auto region = rail.pd->register_memory(pr.recv_memory.data(), pr.recv_memory.size(),
                                             kAccessLocalWrite, MemoryKind::kHost);
      if (!region.ok()) return region.error();
      pr.recv_region = std::move(region).value();
      endpoint_owner[(static_cast<uint64_t>(r) << 32) | pr.endpoint->id()] = {peer_index_value, r};
    }
    if (peer.control_memory.empty()) {
      peer.control_memory.assign(static_cast<size_t>(config().control_slots) * config().control_bytes, 0);
      auto reg = registry->register_memory(peer.control_memory.data(), peer.control_memory.size(),
                                           kAccessLocalWrite);
      if (!reg.ok()) return reg.error();
      peer.control_region = registry->find(reinterpret_cast<uint64_t>(peer.control_memory.data()), 1);
      for (uint32_t s = config().control_slots; s-- > 0;) peer.free_slots.push_back(s);
    }
    peer.incarnation = ++incarnations;
    return {};
  }

  void post_recv(PeerRail& pr, uint32_t slot) {
    Sge sge{reinterpret_cast<uint64_t>(pr.recv_memory.data()) + uint64_t{slot} * config().control_bytes,
            config().control_bytes, pr.recv_region->lkey()};
    RecvRequest rr{kRecvCookie | slot, &sge, 1};
    (void)pr.endpoint->post_recv({&rr, 1});  // an endpoint in error flushes it back to us
  }

  std::vector<uint8_t> hello(const Peer& peer) const {
    std::vector<uint8_t> out;
    put(out, kHelloMagic);
    put(out, kHelloVersion);
    put(out, static_cast<uint8_t>(kind));
    put(out, static_cast<uint8_t>(rails.size()));
    put(out, peer.incarnation);
    for (const PeerRail& pr : peer.rails) {
      const std::vector<uint8_t> address = pr.endpoint->address();
      put(out, static_cast<uint16_t>(address.size()));
      out.insert(out.end(), address.begin(), address.end());
    }
    return out;
  }

  void start_connect(uint32_t index) {
    Peer& peer = *peers[index];
    if (peer.state != PeerState::kIdle) return;
    if (auto created = create_endpoints(index); !created.ok()) {
      peer_unreachable(index, "cannot open endpoints: " + created.error().to_string());
      return;
    }
    peer.state = PeerState::kConnecting;
    send_hello(index);
  }

  void send_hello(uint32_t index) {
    Peer& peer = *peers[index];
    peer.hello_sent = true;
    if (auto sent = engine.exchange_.send(engine.name_, peer.name, hello(peer)); !sent.ok()) {
      peer.handshake_failed = true;
      peer_unreachable(index, "handshake failed: " + sent.error().to_string());
    }
  }

  void on_exchange(const std::string& from, std::span<const uint8_t> bytes) {
    size_t off = 0;
    uint32_t magic = 0;
    uint64_t incarnation = 0;
    if (!take(bytes, &off, &magic)) return;
    if (magic == kHelloMagic) {
      on_hello(from, bytes);
    } else if (magic == kConnectedMagic && take(bytes, &off, &incarnation) && off == bytes.size()) {
      on_connected(from, incarnation);
    }
  }

  void on_connected(const std::string& from, uint64_t incarnation) {
    auto it = peer_index.find(from);
    if (it == peer_index.end()) return;
    Peer& peer = *peers[it->second];
    // It must answer our current endpoints, which we connected to its current ones.
    if (peer.state != PeerState::kConnecting || !peer.connected_locally ||
        incarnation != peer.incarnation) {
      return;
    }
    peer.state = PeerState::kReady;
    std::deque<uint32_t> waiting;
    waiting.swap(peer.waiting);
    for (uint32_t p : waiting) enqueue(p);
  }

  void on_hello(const std::string& from, std::span<const uint8_t> bytes) {
    size_t off = 0;
    uint32_t magic = 0;
    uint8_t version = 0, remote_kind = 0, remote_rails = 0;
    uint64_t incarnation = 0;
    if (!take(bytes, &off, &magic) || magic != kHelloMagic || !take(bytes, &off, &version) ||
        version != kHelloVersion || !take(bytes, &off, &remote_kind) ||
        !take(bytes, &off, &remote_rails) || !take(bytes, &off, &incarnation) ||
        remote_rails == 0 || remote_rails > kMaxRails) {
      return;  // not a handshake of ours: ignore it rather than trust it
    }
    std::vector<std::span<const uint8_t>> addresses;
    for (uint32_t r = 0; r < remote_rails; ++r) {
      uint16_t length = 0;
      if (!take(bytes, &off, &length) || bytes.size() - off < length) return;
      addresses.push_back(bytes.subspan(off, length));
      off += length;
    }
    if (off != bytes.size()) return;

    uint32_t index = add_peer(from);
    if (peers[index]->connected_locally) {
      if (peers[index]->remote_incarnation == incarnation) return;  // a duplicate
      // The peer restarted its side: what was in flight to it is lost.
      reset_peer(index, "peer '" + from + "' reconnected; transfers in flight to it were lost");
      index = add_peer(from);
    }
    Peer& peer = *peers[index];
    if (remote_kind != static_cast<uint8_t>(kind)) {
      peer_unreachable(index, std::string("peer '") + from + "' uses " +
                                  to_string(static_cast<EndpointKind>(remote_kind)) +
                                  " endpoints, this engine " + to_string(kind));
      return;
    }
    if (peer.state == PeerState::kIdle) {
      if (auto created = create_endpoints(index); !created.ok()) {
        peer_unreachable(index, "cannot open endpoints: " + created.error().to_string());
        return;
      }
      peer.state = PeerState::kConnecting;
    }
    peer.usable_rails = std::min<uint32_t>(remote_rails, static_cast<uint32_t>(rails.size()));
    for (uint32_t r = 0; r < peer.usable_rails; ++r) {
      PeerRail& pr = peer.rails[r];
      auto connected = pr.endpoint->connect(addresses[r]);
      pr.up = connected.ok();
      if (!connected.ok()) {
        peer.last_error = connected.error().to_string();
        continue;
      }
      // Receives can be posted once the queue pair is connected (not in its reset state),
      // and before the peer hears "connected" and may send.
      for (uint32_t slot = 0; slot < config().recv_buffers; ++slot) post_recv(pr, slot);
    }
    peer.remote_incarnation = incarnation;
    peer.connected_locally = true;
    if (!peer.hello_sent) send_hello(index);
    std::vector<uint8_t> connected;
    put(connected, kConnectedMagic);
    put(connected, incarnation);
    if (auto sent = engine.exchange_.send(engine.name_, peer.name, std::move(connected)); !sent.ok()) {
      peer_unreachable(index, "handshake failed: " + sent.error().to_string());
    }
  }

  // Fails everything queued or in flight to the peer and forgets its endpoints.
  void reset_peer(uint32_t index, const std::string& why) {
    Peer& peer = *peers[index];
    std::vector<uint32_t> orphaned;
    for (uint32_t p = 0; p < pieces.size(); ++p) {
      if (pieces[p].live && pieces[p].peer == index) orphaned.push_back(p);
    }
    for (uint32_t r = 0; r < peer.rails.size(); ++r) {
      PeerRail& pr = peer.rails[r];
      if (pr.endpoint) endpoint_owner.erase((static_cast<uint64_t>(r) << 32) | pr.endpoint->id());
      pr.endpoint.reset();  // destroying it drops what it still held
      pr.recv_region.reset();
    }
    peer.state = PeerState::kRemoved;
    peer.last_error = why;
    fail_expectations(index, why);
    for (uint32_t p : orphaned) drop_piece(p, why);
  }

  void peer_unreachable(uint32_t index, const std::string& why) {
    Peer& peer = *peers[index];
    peer.last_error = why;
    for (PeerRail& pr : peer.rails) pr.up = false;
    std::deque<uint32_t> waiting;
    waiting.swap(peer.waiting);
    for (uint32_t p : waiting) drop_piece(p, why);
    for (PeerRail& pr : peer.rails) {
      std::deque<uint32_t> queue;
      queue.swap(pr.queue);
      for (uint32_t p : queue) drop_piece(p, why);
    }
  }

  // A piece that cannot be sent fails its transfer. The transfer settles at the next
  // progress(), so that `done` never runs inside the call that started the transfer.
  void drop_piece(uint32_t p, const std::string& why) {
    const uint32_t transfer = pieces[p].transfer;
    release_control_slot(pieces[p]);
    free_piece(p);
    fail_transfer(transfer, TransferResult::failure(ErrorCode::kUnavailable, why));
    deferred_settles.push_back(transfer);
  }
  std::vector<uint32_t> deferred_settles;

  void release_control_slot(const Piece& piece) {
    if (piece.kind == PieceKind::kMessage) peers[piece.peer]->free_slots.push_back(piece.control_slot);
  }

  // ---- pieces to rails ----
  // The live rail where this piece would finish first, given what is queued on each.
  int pick_rail(const Peer& peer, uint64_t bytes) const {
    int best = -1;
    double best_time = 0;
    for (uint32_t r = 0; r < peer.usable_rails; ++r) {
      if (!peer.rails[r].up) continue;
      const double t = static_cast<double>(peer.rails[r].queued_bytes + bytes) / rails[r].gbps;
      if (best < 0 || t < best_time) {
        best = static_cast<int>(r);
        best_time = t;
      }
    }
    return best;
  }

  void enqueue(uint32_t p) {
    Piece& piece = pieces[p];
    Peer& peer = *peers[piece.peer];
    if (peer.state == PeerState::kIdle) start_connect(piece.peer);
    if (peer.state == PeerState::kConnecting && !peer.handshake_failed) {
      peer.waiting.push_back(p);
      return;
    }
    if (peer.state != PeerState::kReady) {
      drop_piece(p, "peer '" + peer.name + "' is not connected: " + peer.last_error);
      return;
    }
    const int rail = pick_rail(peer, piece.length);
    if (rail < 0) {
      drop_piece(p, "no rail reaches peer '" + peer.name + "'" +
                        (peer.last_error.empty() ? "" : " (last error: " + peer.last_error + ")"));
      return;
    }
    piece.rail = static_cast<uint32_t>(rail);
    PeerRail& pr = peer.rails[piece.rail];
    pr.queue.push_back(p);
    pr.queued_bytes += piece.length;
    submit(piece.peer, piece.rail);
  }

  void submit(uint32_t peer_index_value, uint32_t r) {
    Peer& peer = *peers[peer_index_value];
    PeerRail& pr = peer.rails[r];
    const Rail& rail = rails[r];
    while (pr.up && !pr.queue.empty() && pr.posted < rail.max_send_wr) {
      batch.clear();
      batch_sges.clear();
      const size_t room = std::min<size_t>({kPostBatch, pr.queue.size(), rail.max_send_wr - pr.posted});
      for (size_t i = 0; i < room; ++i) {
        const uint32_t p = pr.queue[i];
        const Piece& piece = pieces[p];
        const size_t first = batch_sges.size();
        WorkRequest wr;
        wr.cookie = (static_cast<uint64_t>(piece.generation) << 32) | p;
        if (piece.kind == PieceKind::kData) {
          const Transfer& t = transfers[piece.transfer];
          for (uint32_t s = 0; s < piece.num_sge; ++s) {
            Sge sge = t.sges[piece.first_sge + s];
            sge.lkey = t.local->lkey(r);
            batch_sges.push_back(sge);
          }
          wr.opcode = piece.with_imm ? Opcode::kWriteWithImm : Opcode::kWrite;
          wr.remote_addr = piece.remote_addr;
          wr.rkey = remote_regions[t.remote_region].second.rkeys[r];
        } else if (piece.kind == PieceKind::kNotify) {
          wr.opcode = Opcode::kWriteWithImm;  // zero bytes: the immediate is the message
        } else {
          batch_sges.push_back(Sge{reinterpret_cast<uint64_t>(peer.control_memory.data()) +
                                       uint64_t{piece.control_slot} * config().control_bytes,
                                   piece.length, peer.control_region->lkey(r)});
          wr.opcode = Opcode::kSend;
        }
        wr.imm = piece.imm;
        wr.num_sge = static_cast<uint32_t>(batch_sges.size() - first);
        // batch_sges has room for a full batch (reserved in open()): no reallocation.
        wr.sg_list = wr.num_sge ? batch_sges.data() + first : nullptr;
        batch.push_back(wr);
      }
      size_t bad = batch.size();
      const VoidResult posted = pr.endpoint->post_send(batch, &bad);
      const size_t accepted = posted.ok() ? batch.size() : bad;
      pr.posted += static_cast<uint32_t>(accepted);
      pr.queue.erase(pr.queue.begin(), pr.queue.begin() + static_cast<long>(accepted));
      if (!posted.ok()) {
        peer.last_error = posted.error().to_string();
        rail_down(peer_index_value, r);
        return;
      }
    }
  }

  // The rail no longer reaches the peer: what waits on it goes elsewhere; what was posted
  // comes back flushed and goes elsewhere then.
  void rail_down(uint32_t peer_index_value, uint32_t r) {
    Peer& peer = *peers[peer_index_value];
    PeerRail& pr = peer.rails[r];
    if (!pr.up) return;
    pr.up = false;
    ++rails[r].counters.failovers;
    ++peer.counters.failovers;
    std::deque<uint32_t> queue;
    queue.swap(pr.queue);
    pr.queued_bytes = 0;
    for (uint32_t p : queue) {
      ++rails[r].counters.retries;
      ++peer.counters.retries;
      enqueue(p);
    }
  }

  // ---- completions ----
  void on_completion(uint32_t r, const Completion& c) {
    if (c.cookie & kRecvCookie) {
      on_recv(r, c);
      return;
    }
    const uint32_t p = static_cast<uint32_t>(c.cookie);
    if (p >= pieces.size() || !pieces[p].live ||
        pieces[p].generation != static_cast<uint32_t>(c.cookie >> 32)) {
      return;  // its peer was reset meanwhile
    }
    Piece& piece = pieces[p];
    Peer& peer = *peers[piece.peer];
    PeerRail& pr = peer.rails[r];
    --pr.posted;
    pr.queued_bytes -= std::min<uint64_t>(pr.queued_bytes, piece.length);
    const uint32_t transfer = piece.transfer;
    const uint32_t peer_of_piece = piece.peer;
    if (c.status == Status::kSuccess) {
      for (TransferCounters* counters : {&rails[r].counters, &peer.counters}) {
        counters->bytes += piece.length;
        ++counters->operations;
      }
      release_control_slot(piece);
      free_piece(p);
      settle(transfer);  // may add pieces (and move the pool): `piece` is stale after it
      submit(peer_of_piece, r);
      return;
    }
    if (retriable(c.status)) {
      // The rail failed under this piece; whether it landed is unknown, and resending is
      // safe: data lands on the same bytes, a notification is counted once (docs/engine.md).
      peer.last_error = std::string("rail ") + std::to_string(r) + ": " + to_string(c.status);
      rail_down(peer_of_piece, r);
      ++rails[r].counters.retries;
      ++peer.counters.retries;
      enqueue(p);
      return;
    }
    // The target refused it (wrong key, range, rights): resending cannot help.
    fail_transfer(transfer, TransferResult::failure(ErrorCode::kFailedPrecondition,
                                    std::string("peer '") + peer.name + "' refused a " +
                                        (piece.kind == PieceKind::kMessage ? "message" : "write") +
                                        ": " + to_string(c.status)));
    if (pr.endpoint && pr.endpoint->state() == EndpointState::kError) rail_down(peer_of_piece, r);
    release_control_slot(piece);
    free_piece(p);
    settle(transfer);
  }

  void on_recv(uint32_t r, const Completion& c) {
    auto owner = endpoint_owner.find((static_cast<uint64_t>(r) << 32) | c.endpoint_id);
    if (owner == endpoint_owner.end()) return;
    const uint32_t peer_index_value = owner->second.first;
    Peer& peer = *peers[peer_index_value];
    PeerRail& pr = peer.rails[r];
    if (c.status != Status::kSuccess) {
      if (pr.endpoint && pr.endpoint->state() == EndpointState::kError) rail_down(peer_index_value, r);
      return;  // a flushed buffer is not reposted
    }
    const uint32_t slot = static_cast<uint32_t>(c.cookie & 0xffffffff);
    if (c.has_imm) {
      peer.counter.on_immediate(c.imm);
    } else {
      on_message(peer_index_value, std::span<const uint8_t>(
                                       pr.recv_memory.data() + uint64_t{slot} * config().control_bytes,
                                       std::min<uint32_t>(c.byte_len, config().control_bytes)));
    }
    if (pr.endpoint) post_recv(pr, slot);
  }

  void on_message(uint32_t peer_index_value, std::span<const uint8_t> bytes) {
    Peer& peer = *peers[peer_index_value];
    size_t off = 0;
    uint32_t magic = 0, length = 0;
    uint64_t seq = 0;
    if (!take(bytes, &off, &magic) || magic != kMessageMagic || !take(bytes, &off, &seq) ||
        !take(bytes, &off, &length) || bytes.size() - off != length) {
      return;
    }
    if (seq < peer.next_recv_seq || peer.early.count(seq)) return;  // a resend
    peer.early.emplace(seq, std::vector<uint8_t>(bytes.begin() + static_cast<long>(off), bytes.end()));
    // Deliver in sequence order, whatever order the fabric used.
    for (auto it = peer.early.begin(); it != peer.early.end() && it->first == peer.next_recv_seq;
         it = peer.early.erase(it)) {
      ++peer.next_recv_seq;
      if (engine.message_handler_) engine.message_handler_(peer.name, it->second);
    }
  }

  // ---- building transfers ----
  // The local registration that covers [src, src+bytes), or an error naming the problem.
  Result<Registration*> local_registration(const void* src, uint64_t bytes) {
    Registration* reg = registry->find(reinterpret_cast<uint64_t>(src), bytes);
    if (reg == nullptr) {
      return make_error(ErrorCode::kInvalidArgument,
                        "source range of " + std::to_string(bytes) +
                            " bytes is not inside registered memory (register_memory first)");
    }
    return reg;
  }

  Result<const RegionDescriptor*> remote_target(uint32_t peer, RemoteRegion region, uint64_t offset,
                                                uint64_t bytes) {
    if (region.id == 0 || region.id > remote_regions.size() ||
        remote_regions[region.id - 1].first != peer) {
      return make_error(ErrorCode::kInvalidArgument,
                        "remote region " + std::to_string(region.id) + " was not imported from peer '" +
                            peers[peer]->name + "'");
    }
    const RegionDescriptor& d = remote_regions[region.id - 1].second;
    if (offset > d.length || bytes > d.length - offset) {
      return make_error(ErrorCode::kOutOfRange,
                        "target range [" + std::to_string(offset) + ", +" + std::to_string(bytes) +
                            ") is outside the peer's region of " + std::to_string(d.length) + " bytes");
    }
    return &d;
  }

  // Splits [src, src+bytes) -> (remote addr) into pieces and queues them.
  void add_data_pieces(uint32_t transfer, uint32_t peer, uint64_t src, uint64_t bytes,
                       uint64_t remote_addr) {
    Transfer& t = transfers[transfer];
    const uint64_t piece_bytes = bytes > config().stripe_threshold_bytes
                                     ? std::min(config().piece_bytes, max_message())
                                     : std::max<uint64_t>(bytes, 1);
    uint64_t off = 0;
    do {
      const uint64_t n = std::min(piece_bytes, bytes - off);
      const uint32_t p = new_piece(PieceKind::kData, transfer, peer);
      Piece& piece = pieces[p];
      piece.first_sge = static_cast<uint32_t>(t.sges.size());
      piece.num_sge = 1;
      piece.remote_addr = remote_addr + off;
      piece.length = static_cast<uint32_t>(n);
      t.sges.push_back(Sge{src + off, static_cast<uint32_t>(n), 0});
      pending_pieces.push_back(p);
      off += n;
    } while (off < bytes);
  }

  uint64_t max_message() const {
    uint64_t m = UINT32_MAX;
    for (const Rail& rail : rails) m = std::min(m, rail.max_message);
    return m;
  }
  uint32_t max_sge() const {
    uint32_t m = 32;
    for (const Rail& rail : rails) m = std::min(m, rail.max_sge);
    return m;
  }

  // Queues every piece of the transfer being built; with a notification and a single
  // data piece the notification rides on that piece as its immediate.
  TransferId launch(uint32_t transfer) {
    Transfer& t = transfers[transfer];
    if (t.notify && t.notify_peers.size() == 1 && pending_pieces.size() == 1) {
      Piece& only = pieces[pending_pieces.front()];
      only.with_imm = true;
      only.imm = Immediate::encode(t.notify->tag, t.notify->index);
      t.notify_peers.clear();
    }
    const TransferId id = transfer_id(transfer);
    std::vector<uint32_t> queue;
    queue.swap(pending_pieces);
    for (uint32_t p : queue) enqueue(p);
    if (t.outstanding == 0) deferred_settles.push_back(transfer);  // nothing to move
    return id;
  }
  std::vector<uint32_t> pending_pieces;  // pieces of the transfer being built

  // A transfer reading local memory [src, src+bytes).
  uint32_t start_transfer(Registration* local, TransferDone done, std::optional<Notify> notify) {
    const uint32_t t = new_transfer(std::move(done));
    Transfer& transfer = transfers[t];
    transfer.local = local;
    if (local != nullptr) ++local->in_flight;
    transfer.notify = notify;
    return t;
  }
};

// ===================================================================================

Engine::Engine(std::string name, Provider& provider, Exchange& exchange, EngineConfig config)
    : name_(std::move(name)),
      provider_(provider),
      exchange_(exchange),
      config_(std::move(config)),
      impl_(std::make_unique<Impl>(*this)) {}

Engine::~Engine() {
  // Endpoints go before the queues and domains they use.
  for (auto& peer : impl_->peers) {
    for (PeerRail& pr : peer->rails) {
      pr.endpoint.reset();
      pr.recv_region.reset();
    }
  }
  impl_->registry.reset();
}

VoidResult Engine::open() {
  if (!impl_->rails.empty()) return make_error(ErrorCode::kFailedPrecondition, "engine already open");
  if (provider_.device_count() == 0 || provider_.device_count() > kMaxRails) {
    return make_error(ErrorCode::kUnavailable,
                      std::string(provider_.name()) + " has " + std::to_string(provider_.device_count()) +
                          " devices; an engine needs 1 to " + std::to_string(kMaxRails));
  }
  if (config_.control_bytes <= kMessageHeader || config_.recv_buffers == 0 ||
      config_.control_slots == 0 || config_.piece_bytes == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "control_bytes must exceed the message header; recv_buffers, control_slots "
                      "and piece_bytes must be positive");
  }
  bool all_ordered = true, all_unordered = true;
  std::vector<ProtectionDomain*> pds;
  for (size_t i = 0; i < provider_.device_count(); ++i) {
    Rail rail;
    rail.device = &provider_.device(i);
    const DeviceAttributes& attr = rail.device->attributes();
    auto pd = rail.device->create_protection_domain();
    if (!pd.ok()) return make_error(pd.error().code, attr.name + ": " + pd.error().message);
    rail.pd = std::move(pd).value();
    auto cq = rail.device->create_completion_queue(std::min(config_.cq_depth, attr.max_cqe));
    if (!cq.ok()) return make_error(cq.error().code, attr.name + ": " + cq.error().message);
    rail.cq = std::move(cq).value();
    rail.gbps = attr.link_gbps > 0 ? attr.link_gbps : 1;
    rail.max_send_wr = std::min(config_.max_send_wr, attr.max_send_wr);
    rail.max_sge = attr.max_sge;
    rail.max_message = attr.max_message_bytes;
    all_ordered &= attr.ordered;
    all_unordered &= attr.unordered;
    pds.push_back(rail.pd.get());
    impl_->rails.push_back(std::move(rail));
  }
  if (config_.endpoint_kind) {
    impl_->kind = *config_.endpoint_kind;
    if ((impl_->kind == EndpointKind::kRc && !all_ordered) ||
        (impl_->kind == EndpointKind::kSrd && !all_unordered)) {
      return make_error(ErrorCode::kUnsupported,
                        std::string("not every rail offers ") + to_string(impl_->kind) + " endpoints");
    }
  } else if (all_ordered) {
    impl_->kind = EndpointKind::kRc;
  } else if (all_unordered) {
    impl_->kind = EndpointKind::kSrd;
  } else {
    return make_error(ErrorCode::kUnsupported, "the rails share no endpoint kind");
  }
  impl_->registry = std::make_unique<MemoryRegistry>(std::move(pds));
  impl_->batch.reserve(kPostBatch);
  impl_->batch_sges.reserve(kPostBatch * 32);
  return {};
}

size_t Engine::rail_count() const { return impl_->rails.size(); }

Result<const Registration*> Engine::register_memory(void* addr, size_t length, uint32_t access) {
  if (!impl_->registry) return make_error(ErrorCode::kFailedPrecondition, "engine not open");
  return impl_->registry->register_memory(addr, length, access);
}

VoidResult Engine::deregister_memory(void* addr) {
  if (!impl_->registry) return make_error(ErrorCode::kFailedPrecondition, "engine not open");
  return impl_->registry->deregister(addr);
}

Result<RemoteRegion> Engine::import_region(const std::string& peer, std::span<const uint8_t> bytes) {
  auto descriptor = RegionDescriptor::parse(bytes);
  if (!descriptor.ok()) return descriptor.error();
  if (descriptor->rkeys.size() < impl_->rails.size()) {
    // Rails beyond the peer's are never used for it; keep the keys aligned.
    descriptor->rkeys.resize(impl_->rails.size(), 0);
  }
  const uint32_t peer_index = impl_->add_peer(peer);
  impl_->remote_regions.emplace_back(peer_index, std::move(descriptor).value());
  return RemoteRegion{static_cast<uint32_t>(impl_->remote_regions.size())};
}

VoidResult Engine::add_peer(const std::string& peer) {
  if (peer.empty() || peer == name_) {
    return make_error(ErrorCode::kInvalidArgument, "a peer needs a name other than this engine's");
  }
  impl_->add_peer(peer);
  return {};
}

VoidResult Engine::remove_peer(const std::string& peer) {
  auto index = impl_->find_peer(peer);
  if (!index.ok()) return index.error();
  impl_->reset_peer(*index, "peer '" + peer + "' was removed");
  return {};
}

bool Engine::peer_connected(const std::string& peer) const {
  auto index = impl_->find_peer(peer);
  return index.ok() && impl_->peers[*index]->state == PeerState::kReady;
}

Result<TransferId> Engine::write(const std::string& peer, const void* src, uint64_t bytes,
                                 RemoteRegion dst, uint64_t dst_offset, std::optional<Notify> notify,
                                 TransferDone done) {
  auto p = impl_->find_peer(peer);
  if (!p.ok()) return p.error();
  if (bytes == 0) return make_error(ErrorCode::kInvalidArgument, "a write of 0 bytes (use notify)");
  auto local = impl_->local_registration(src, bytes);
  if (!local.ok()) return local.error();
  auto target = impl_->remote_target(*p, dst, dst_offset, bytes);
  if (!target.ok()) return target.error();

  const uint32_t t = impl_->start_transfer(*local, std::move(done), notify);
  impl_->transfers[t].remote_region = dst.id - 1;
  if (notify) impl_->transfers[t].notify_peers.push_back(*p);
  impl_->add_data_pieces(t, *p, reinterpret_cast<uint64_t>(src), bytes, (*target)->addr + dst_offset);
  return impl_->launch(t);
}

Result<TransferId> Engine::write_paged(const std::string& peer, const PagedTransfer& pages,
                                       std::optional<Notify> notify, TransferDone done) {
  auto p = impl_->find_peer(peer);
  if (!p.ok()) return p.error();
  if (pages.src_pages.empty()) return make_error(ErrorCode::kInvalidArgument, "no pages to write");
  // Bounds of both sides, from the largest page index on each.
  const uint64_t src_max = *std::max_element(pages.src_pages.begin(), pages.src_pages.end());
  const uint64_t dst_max = *std::max_element(pages.dst_pages.begin(), pages.dst_pages.end());
  auto local = impl_->local_registration(pages.src_base, src_max * pages.src_stride + pages.page_bytes);
  if (!local.ok()) return local.error();
  auto target = impl_->remote_target(*p, pages.dst, pages.dst_offset,
                                     dst_max * pages.dst_stride + pages.page_bytes);
  if (!target.ok()) return target.error();

  PagedWriteSpec spec;
  spec.src_pages = pages.src_pages;
  spec.dst_pages = pages.dst_pages;
  spec.page_bytes = pages.page_bytes;
  spec.src_base = reinterpret_cast<uint64_t>(pages.src_base);
  spec.src_stride = pages.src_stride;
  spec.dst_base = (*target)->addr + pages.dst_offset;
  spec.dst_stride = pages.dst_stride;
  if (auto built = plan_.build(spec, 0, impl_->max_sge(), std::min(config_.piece_bytes, impl_->max_message()));
      !built.ok()) {
    return built.error();
  }

  const uint32_t t = impl_->start_transfer(*local, std::move(done), notify);
  Transfer& transfer = impl_->transfers[t];
  transfer.remote_region = pages.dst.id - 1;
  if (notify) transfer.notify_peers.push_back(*p);
  transfer.sges = plan_.sges();
  for (const PlannedWrite& w : plan_.writes()) {
    const uint32_t piece = impl_->new_piece(PieceKind::kData, t, *p);
    Piece& pc = impl_->pieces[piece];
    pc.first_sge = w.first_sge;
    pc.num_sge = w.num_sge;
    pc.remote_addr = w.remote_addr;
    pc.length = w.length;
    impl_->pending_pieces.push_back(piece);
  }
  return impl_->launch(t);
}

Result<TransferId> Engine::scatter(const void* src, uint64_t bytes, std::span<const ScatterTarget> targets,
                                   std::optional<Notify> notify, TransferDone done) {
  if (targets.empty()) return make_error(ErrorCode::kInvalidArgument, "scatter to no targets");
  if (bytes == 0) return make_error(ErrorCode::kInvalidArgument, "a scatter of 0 bytes");
  auto local = impl_->local_registration(src, bytes);
  if (!local.ok()) return local.error();
  std::vector<std::pair<uint32_t, uint64_t>> resolved;  // (peer, remote address)
  for (const ScatterTarget& target : targets) {
    auto p = impl_->find_peer(target.peer);
    if (!p.ok()) return p.error();
    auto d = impl_->remote_target(*p, target.region, target.offset, bytes);
    if (!d.ok()) return d.error();
    resolved.emplace_back(*p, (*d)->addr + target.offset);
  }
  // One child transfer per target (each has its own remote region and notification),
  // and a parent that is done when every child is.
  const uint32_t parent = impl_->start_transfer(nullptr, std::move(done), std::nullopt);
  for (size_t i = 0; i < targets.size(); ++i) {
    const uint32_t child = impl_->start_transfer(*local, nullptr, notify);
    impl_->transfers[child].remote_region = targets[i].region.id - 1;
    if (notify) impl_->transfers[child].notify_peers.push_back(resolved[i].first);
    ++impl_->transfers[parent].outstanding;
    impl_->transfers[child].done = [this, parent, generation = impl_->transfers[parent].generation](
                                       const TransferResult& result) {
      Transfer& pt = impl_->transfers[parent];
      if (!pt.live || pt.generation != generation) return;
      if (!result.ok) impl_->fail_transfer(parent, result);
      impl_->settle(parent);
    };
    impl_->add_data_pieces(child, resolved[i].first, reinterpret_cast<uint64_t>(src), bytes,
                           resolved[i].second);
    impl_->launch(child);
  }
  return impl_->transfer_id(parent);
}

Result<TransferId> Engine::notify(const std::string& peer, Notify notify, TransferDone done) {
  auto p = impl_->find_peer(peer);
  if (!p.ok()) return p.error();
  const uint32_t t = impl_->start_transfer(nullptr, std::move(done), notify);
  const uint32_t piece = impl_->new_piece(PieceKind::kNotify, t, *p);
  impl_->pieces[piece].with_imm = true;
  impl_->pieces[piece].imm = Immediate::encode(notify.tag, notify.index);
  impl_->pending_pieces.push_back(piece);
  return impl_->launch(t);
}

Result<TransferId> Engine::barrier(std::span<const std::string> group, uint16_t tag, TransferDone done) {
  std::vector<uint32_t> members;
  for (const std::string& name : group) {
    if (name == name_) continue;  // the caller may pass the whole group, itself included
    auto p = impl_->find_peer(name);
    if (!p.ok()) return p.error();
    members.push_back(*p);
  }
  const uint32_t t = impl_->start_transfer(nullptr, std::move(done), std::nullopt);
  for (uint32_t member : members) {
    // We tell each member we arrived, and wait for each to tell us.
    const uint32_t piece = impl_->new_piece(PieceKind::kNotify, t, member);
    impl_->pieces[piece].with_imm = true;
    impl_->pieces[piece].imm = Immediate::encode(tag, 0);
    impl_->pending_pieces.push_back(piece);
    impl_->add_expectation(t, member, tag, 1);
  }
  return impl_->launch(t);
}

Result<TransferId> Engine::send_message(const std::string& peer, std::span<const uint8_t> bytes,
                                        TransferDone done) {
  auto p = impl_->find_peer(peer);
  if (!p.ok()) return p.error();
  if (bytes.size() > config_.control_bytes - kMessageHeader) {
    return make_error(ErrorCode::kOutOfRange,
                      "message of " + std::to_string(bytes.size()) + " bytes; at most " +
                          std::to_string(config_.control_bytes - kMessageHeader) + " fit");
  }
  Peer& target = *impl_->peers[*p];
  if (target.state == PeerState::kIdle) impl_->start_connect(*p);
  if (target.control_memory.empty() || target.free_slots.empty()) {
    return make_error(ErrorCode::kResourceExhausted,
                      target.control_memory.empty()
                          ? "peer '" + peer + "' cannot be reached: " + target.last_error
                          : std::to_string(config_.control_slots) + " messages to peer '" + peer +
                                "' already in flight");
  }
  const uint32_t slot = target.free_slots.back();
  target.free_slots.pop_back();
  uint8_t* out = target.control_memory.data() + uint64_t{slot} * config_.control_bytes;
  const uint64_t seq = target.next_send_seq++;
  const uint32_t length = static_cast<uint32_t>(bytes.size());
  std::memcpy(out, &kMessageMagic, 4);
  std::memcpy(out + 4, &seq, 8);
  std::memcpy(out + 12, &length, 4);
  if (!bytes.empty()) std::memcpy(out + kMessageHeader, bytes.data(), bytes.size());

  const uint32_t t = impl_->start_transfer(nullptr, std::move(done), std::nullopt);
  const uint32_t piece = impl_->new_piece(PieceKind::kMessage, t, *p);
  impl_->pieces[piece].control_slot = slot;
  impl_->pieces[piece].length = static_cast<uint32_t>(kMessageHeader + bytes.size());
  impl_->pending_pieces.push_back(piece);
  return impl_->launch(t);
}

Result<TransferId> Engine::expect(const std::string& peer, uint16_t tag, uint32_t count,
                                  TransferDone done) {
  if (peer.empty() || peer == name_) {
    return make_error(ErrorCode::kInvalidArgument, "a peer needs a name other than this engine's");
  }
  if (count == 0 || count > Immediate::kMaxPieces) {
    return make_error(ErrorCode::kOutOfRange,
                      "count " + std::to_string(count) + " is not in [1, 65536]");
  }
  // A peer never seen is added (a wait may start before the peer connects); a removed
  // one stays removed: waiting for it could only end at the deadline.
  auto known = impl_->peer_index.find(peer);
  if (known != impl_->peer_index.end() && impl_->peers[known->second]->state == PeerState::kRemoved) {
    return make_error(ErrorCode::kUnavailable, "peer '" + peer + "' was removed (add_peer to use it again)");
  }
  const uint32_t index = impl_->add_peer(peer);
  const uint32_t t = impl_->start_transfer(nullptr, std::move(done), std::nullopt);
  impl_->transfers[t].target = peer;
  impl_->add_expectation(t, index, tag, count);
  return impl_->launch(t);
}

void Engine::release(const std::string& peer, uint16_t tag) {
  auto index = impl_->find_peer(peer);
  if (!index.ok()) return;
  Peer& p = *impl_->peers[*index];
  for (const auto& e : std::vector(p.expectations)) {
    if (e.tag != tag) continue;
    impl_->fail_transfer(e.transfer, TransferResult::failure(ErrorCode::kFailedPrecondition,
                                             "tag " + std::to_string(tag) + " was released"));
    if (impl_->forget_expectation(*index, e.transfer, e.generation, tag)) {
      impl_->deferred_settles.push_back(e.transfer);
    }
  }
  p.counter.release(tag);
}

bool Engine::progress() {
  Impl& m = *impl_;
  bool did = false;
  while (auto message = exchange_.poll(name_)) {
    m.on_exchange(message->from, message->bytes);
    did = true;
  }
  Completion completions[64];
  for (uint32_t r = 0; r < m.rails.size(); ++r) {
    auto polled = m.rails[r].cq->poll(completions);
    if (!polled.ok()) {
      // The queue lost completions: nothing on this rail can be trusted any more.
      for (uint32_t p = 0; p < m.peers.size(); ++p) {
        m.peers[p]->last_error = polled.error().to_string();
        m.rail_down(p, r);
      }
      continue;
    }
    for (size_t i = 0; i < *polled; ++i) m.on_completion(r, completions[i]);
    did |= *polled > 0;
  }
  if (!m.deferred_settles.empty()) {
    std::vector<uint32_t> settles;
    settles.swap(m.deferred_settles);
    for (uint32_t t : settles) {
      if (!m.transfers[t].live) continue;
      if (m.transfers[t].outstanding == 0) {
        m.finish(t);
      } else {
        m.settle(t);
      }
    }
    did = true;
  }
  m.expire_deadlines();
  return did;
}

size_t Engine::transfers_in_flight() const { return impl_->live_transfers; }

EngineStats Engine::stats() const {
  EngineStats s;
  for (const Rail& rail : impl_->rails) s.rails.push_back(rail.counters);
  for (const auto& peer : impl_->peers) {
    TransferCounters& c = s.peers[peer->name];
    c.bytes += peer->counters.bytes;
    c.operations += peer->counters.operations;
    c.retries += peer->counters.retries;
    c.failovers += peer->counters.failovers;
  }
  s.transfers_done = impl_->transfers_done;
  s.transfers_failed = impl_->transfers_failed;
  return s;
}

}  // namespace ferry
