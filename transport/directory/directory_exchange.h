// DirectoryExchange: the out-of-band mailbox of one named engine across processes and
// hosts. A TcpExchange listens on `host` (any free port); its "host:port" is published in
// the directory under exchange/<name>; a peer's address is looked up there the first time
// something is sent to it (lazily: peers may start in any order).
//
// send() never blocks: a message to a peer not yet in the directory waits in a queue
// that poll() flushes once the peer appears. A peer still absent after
// `lookup_timeout_ms` fails: its queued messages are dropped, later sends to it fail,
// and last_error() names the peer and the directory.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/directory/directory.h"
#include "transport/engine/exchange.h"
#include "transport/engine/tcp_exchange.h"

namespace ferry::directory {

class DirectoryExchange final : public Exchange {
 public:
  static Result<std::unique_ptr<DirectoryExchange>> open(Directory& directory, const std::string& name,
                                                         const std::string& host, uint64_t lookup_timeout_ms = 30000);
  ~DirectoryExchange() override;

  VoidResult send(const std::string& from, const std::string& to, std::vector<uint8_t> bytes) override;
  std::optional<ExchangeMessage> poll(const std::string& me) override;

  uint16_t port() const { return tcp_->port(); }
  const std::string& last_error() const { return last_error_.empty() ? tcp_->last_error() : last_error_; }

  // The directory key a name's address lives under.
  static std::string key_of(const std::string& name) { return "exchange/" + name; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Unresolved {
    Clock::time_point give_up_at;
    Clock::time_point next_lookup;
    std::deque<std::pair<std::string, std::vector<uint8_t>>> messages;  // from, bytes
  };
  DirectoryExchange(Directory& directory, std::string name, std::unique_ptr<TcpExchange> tcp, uint64_t lookup_timeout_ms)
      : directory_(directory), name_(std::move(name)), tcp_(std::move(tcp)), lookup_timeout_ms_(lookup_timeout_ms) {}
  // Looks the waiting peers up (at most every few milliseconds each) and sends what
  // waited for those found.
  void resolve();

  Directory& directory_;
  std::string name_;
  std::unique_ptr<TcpExchange> tcp_;
  uint64_t lookup_timeout_ms_;
  std::map<std::string, bool> known_;  // peer -> found (true) or given up on (false)
  std::map<std::string, Unresolved> waiting_;
  std::string last_error_;
};

}  // namespace ferry::directory
