#include "tools/ferry/replay/node_link.h"

#include <algorithm>
#include <thread>

#include "transport/wire_fields.h"

namespace ferry::replay {

using directory::DirectoryExchange;

namespace {

// "node12" -> 12; nothing for another name.
std::optional<uint32_t> node_of(const std::string& name) {
  if (name.rfind("node", 0) != 0 || name.size() == 4 || name.size() > 14) return std::nullopt;
  uint64_t n = 0;
  for (size_t i = 4; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return n <= UINT32_MAX ? std::optional<uint32_t>(static_cast<uint32_t>(n)) : std::nullopt;
}

std::string hex(uint64_t v) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(v));
  return out;
}

}  // namespace

Result<std::unique_ptr<NodeLink>> NodeLink::open(const NodeLinkOptions& options) {
  if (options.nodes == 0 || options.node >= options.nodes) {
    return make_error(ErrorCode::kOutOfRange, "node " + std::to_string(options.node) + " of a cluster of " +
                                                  std::to_string(options.nodes) + " nodes");
  }
  std::unique_ptr<NodeLink> link(new NodeLink(options));
  directory::DirectoryOptions directory_options;
  directory_options.cluster = options.cluster;
  auto directory = directory::open_directory(options.directory, directory_options);
  if (!directory.ok()) return directory.error();
  link->directory_ = std::move(directory).value();
  auto exchange =
      DirectoryExchange::open(*link->directory_, name_of(options.node), options.host, options.peer_timeout_ms);
  if (!exchange.ok()) {
    return make_error(exchange.error().code, "node " + std::to_string(options.node) + "'s mailbox in " +
                                                 link->directory_->describe() + ": " + exchange.error().message);
  }
  link->exchange_ = std::move(exchange).value();
  link->seen_.assign(options.nodes, false);
  link->released_.assign(options.nodes, false);
  link->steps_.assign(options.nodes, 0);
  return link;
}

NodeLink::~NodeLink() {
  exchange_.reset();  // withdraws its entry
  if (directory_) directory_->close();
}

std::vector<uint32_t> NodeLink::others() const {
  std::vector<uint32_t> out;
  for (uint32_t n = 0; n < options_.nodes; ++n) {
    if (n != options_.node) out.push_back(n);
  }
  return out;
}

VoidResult NodeLink::post(const std::vector<uint32_t>& to, const std::string& kind, uint64_t seq,
                          const std::vector<uint8_t>& body) {
  const std::vector<uint8_t> message = WireWriter().text(kind).u64(seq).bytes(body).data();
  for (uint32_t n : to) {
    if (n == options_.node) continue;
    if (auto sent = exchange_->send(name_of(options_.node), name_of(n), message); !sent.ok()) {
      // A node that said hello and can no longer be reached is gone.
      const std::string why = "node " + std::to_string(n) + " unreachable: " + sent.error().message;
      if (seen_[n] && !released_[n] && lost_.empty()) lost_ = "lost " + why;
      return make_error(ErrorCode::kUnavailable, lost_.empty() ? why : lost_);
    }
  }
  return {};
}

void NodeLink::pump() {
  while (auto message = exchange_->poll(name_of(options_.node))) {
    const std::optional<uint32_t> from = node_of(message->from);
    if (!from || *from >= options_.nodes) continue;  // not one of this run's nodes
    WireReader r(message->bytes);
    std::string kind = r.text();
    const uint64_t seq = r.u64();
    std::vector<uint8_t> body = r.bytes();
    if (r.failed()) continue;
    if (kind == kFarewell) released_[*from] = true;  // read before its process ends: no loss
    if (kind == kStep) steps_[*from] = std::max(steps_[*from], seq + 1);
    inbox_[{*from, std::move(kind), seq}] = std::move(body);
  }
  const Clock::time_point now = Clock::now();
  if (now >= next_keep_alive_) {
    next_keep_alive_ = now + std::chrono::milliseconds(500);
    if (auto kept = directory_->keep_alive(); !kept.ok() && lost_.empty()) {
      lost_ = "node " + std::to_string(options_.node) + " lost the directory: " + kept.error().to_string();
    }
  }
  if (now >= next_check_) {
    next_check_ = now + std::chrono::milliseconds(250);
    check_liveness();
  }
}

void NodeLink::check_liveness() {
  if (!lost_.empty()) return;
  for (uint32_t n = 0; n < options_.nodes; ++n) {
    if (n == options_.node || !seen_[n] || released_[n]) continue;
    auto found = directory_->lookup(DirectoryExchange::key_of(name_of(n)));
    if (found.ok() && !found->has_value()) {
      lost_ = "lost node " + std::to_string(n) + ": its process ended (its entry left " + directory_->describe() + ")";
      return;
    }
  }
}

std::optional<std::vector<uint8_t>> NodeLink::take(uint32_t from, const std::string& kind, uint64_t seq) {
  auto found = inbox_.find({from, kind, seq});
  if (found == inbox_.end()) return std::nullopt;
  std::vector<uint8_t> body = std::move(found->second);
  inbox_.erase(found);
  return body;
}

Result<std::map<uint32_t, std::vector<uint8_t>>> NodeLink::await(const std::vector<uint32_t>& from,
                                                                 const std::string& kind, uint64_t seq,
                                                                 const Drive& drive, const std::string& what,
                                                                 std::optional<Clock::time_point> until) {
  std::map<uint32_t, std::vector<uint8_t>> got;
  const Clock::time_point deadline =
      until.value_or(Clock::now() + std::chrono::milliseconds(options_.peer_timeout_ms));
  for (uint64_t i = 0;; ++i) {
    pump();
    for (uint32_t n : from) {
      if (n == options_.node || got.count(n)) continue;
      if (auto body = take(n, kind, seq)) got[n] = std::move(*body);
    }
    size_t wanted = 0;
    for (uint32_t n : from) wanted += n != options_.node;
    if (got.size() == wanted) return got;
    if (!lost_.empty()) return make_error(ErrorCode::kUnavailable, what + ": " + lost_);
    for (uint32_t n : from) {
      if (n == options_.node || got.count(n) || kind == kStep || kind == kFarewell || steps_[n] <= step_ + 1) continue;
      return make_error(ErrorCode::kFailedPrecondition, what + ": node " + std::to_string(n) + " left this step early (its "
                                                 "errors say why)");
    }
    for (uint32_t n : from) {
      if (n == options_.node || got.count(n) || kind == kFarewell || !released_[n]) continue;
      auto last = inbox_.find({n, kFarewell, 0});
      const std::string said = last == inbox_.end() ? "" : read_farewell(last->second).second;
      return make_error(ErrorCode::kUnavailable, what + ": node " + std::to_string(n) + " ended first (" + said + ")");
    }
    if (Clock::now() > deadline) {
      std::string missing;
      for (uint32_t n : from) {
        if (n != options_.node && !got.count(n)) missing += (missing.empty() ? "" : ", ") + std::to_string(n);
      }
      std::string why = what + ": no answer from node " + missing + " within " +
                        std::to_string(options_.peer_timeout_ms) + " ms";
      if (!exchange_->last_error().empty()) why += " (" + exchange_->last_error() + ")";
      return make_error(ErrorCode::kDeadlineExceeded, why);
    }
    if (drive) drive();
    // Waiting processes share the host's cores with the ones they wait for.
    if ((i & 63) == 63) std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

Result<std::map<uint32_t, std::vector<uint8_t>>> NodeLink::gather(const std::vector<uint32_t>& nodes,
                                                                  const std::string& kind, uint64_t seq,
                                                                  const std::vector<uint8_t>& body, const Drive& drive,
                                                                  const std::string& what,
                                                                  std::optional<Clock::time_point> deadline) {
  if (auto posted = post(nodes, kind, seq, body); !posted.ok()) {
    return make_error(posted.error().code, what + ": " + posted.error().message);
  }
  return await(nodes, kind, seq, drive, what, deadline);
}

std::vector<uint8_t> NodeLink::farewell(bool ok, const std::string& summary) {
  return WireWriter().u64(ok ? 1 : 0).text(summary).data();
}

std::pair<bool, std::string> NodeLink::read_farewell(const std::vector<uint8_t>& body) {
  WireReader r(body);
  const bool ok = r.u64() == 1;
  std::string summary = r.text();
  if (r.failed()) return {false, "an unreadable verdict"};
  return {ok, std::move(summary)};
}

// Raised whenever the node link's messages change: processes of different ferry builds
// then refuse each other by name instead of misreading each other.
constexpr uint64_t kNodeLinkVersion = 1;

std::vector<uint8_t> hello_message(const NodeLinkOptions& mine) {
  return WireWriter().u64(kNodeLinkVersion).u64(mine.fingerprint).u64(mine.nodes).text(mine.label).data();
}

VoidResult check_hello(const NodeLinkOptions& mine, uint32_t from, const std::vector<uint8_t>& body) {
  WireReader r(body);
  const uint64_t version = r.u64();
  if (!r.failed() && version != kNodeLinkVersion) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "node " + std::to_string(from) + " speaks node-link version " + std::to_string(version) +
                          ", node " + std::to_string(mine.node) + " speaks version " +
                          std::to_string(kNodeLinkVersion) + ": run the same ferry build on every node");
  }
  const uint64_t fingerprint = r.u64();
  const uint64_t nodes = r.u64();
  const std::string label = r.text();
  if (r.failed()) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "node " + std::to_string(from) + " sent a hello this node cannot read (" +
                          std::to_string(body.size()) + " bytes)");
  }
  if (fingerprint != mine.fingerprint || nodes != mine.nodes) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "node " + std::to_string(from) + " runs another replay: " + label + " (fingerprint " +
                          hex(fingerprint) + ", " + std::to_string(nodes) + " nodes) where node " +
                          std::to_string(mine.node) + " runs " + mine.label + " (fingerprint " +
                          hex(mine.fingerprint) + ", " + std::to_string(mine.nodes) + " nodes)");
  }
  return {};
}

VoidResult NodeLink::hello(const Drive& drive) {
  auto got = gather(others(), "hello", 0, hello_message(options_), drive,
                    "node " + std::to_string(options_.node) + " meeting the other nodes in " + directory_->describe());
  if (!got.ok()) {
    std::string why = got.error().message;
    if (got.error().code == ErrorCode::kDeadlineExceeded) {
      why += "; is every node's process running with the same --directory?";
    }
    return make_error(got.error().code, why);
  }
  for (const auto& [n, body] : *got) {
    if (auto matches = check_hello(options_, n, body); !matches.ok()) {
      // Our hello may still wait for the peer's address: let it go out, so that the peer
      // refuses us by name too rather than waiting for us.
      const Clock::time_point until = Clock::now() + std::chrono::milliseconds(300);
      while (Clock::now() < until) pump(), std::this_thread::yield();
      return matches;
    }
    seen_[n] = true;
  }
  return {};
}

}  // namespace ferry::replay
