// Exchange: the out-of-band channel engines use to find each other.
//
// Endpoint addresses (and whatever else the caller wants to hand over, such as region
// descriptors) travel as small messages between named engines before any RDMA path
// exists. The interface is a mailbox: send to a name, poll your own name. It never
// blocks. InProcessExchange serves engines of one process (emu, sim, tests); a TCP
// implementation serves engines on different hosts.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "transport/result.h"

namespace ferry {

struct ExchangeMessage {
  std::string from;
  std::vector<uint8_t> bytes;
};

class Exchange {
 public:
  virtual ~Exchange() = default;
  // Queues `bytes` for the engine named `to`. Fails if `to` is unknown or unreachable.
  virtual VoidResult send(const std::string& from, const std::string& to,
                          std::vector<uint8_t> bytes) = 0;
  // The next message for `me`, if any.
  virtual std::optional<ExchangeMessage> poll(const std::string& me) = 0;
};

// Mailboxes in memory, safe to use from several threads.
class InProcessExchange final : public Exchange {
 public:
  // Names must be registered before anyone sends to them.
  void add(const std::string& name);
  // Drops the mailbox: later sends to `name` fail, as to a vanished host.
  void remove(const std::string& name);

  VoidResult send(const std::string& from, const std::string& to,
                  std::vector<uint8_t> bytes) override;
  std::optional<ExchangeMessage> poll(const std::string& me) override;

 private:
  std::mutex mutex_;
  std::map<std::string, std::deque<ExchangeMessage>> boxes_;
};

}  // namespace ferry
