#include "transport/directory/directory_exchange.h"

namespace ferry::directory {

Result<std::unique_ptr<DirectoryExchange>> DirectoryExchange::open(Directory& directory, const std::string& name,
                                                                   const std::string& host, uint64_t lookup_timeout_ms) {
  auto tcp = TcpExchange::listen(name, host, 0);
  if (!tcp.ok()) return tcp.error();
  const std::string address = host + ":" + std::to_string((*tcp)->port());
  if (auto published = directory.publish(key_of(name), address); !published.ok()) return published.error();
  return std::unique_ptr<DirectoryExchange>(
      new DirectoryExchange(directory, name, std::move(tcp).value(), lookup_timeout_ms));
}

DirectoryExchange::~DirectoryExchange() { (void)directory_.withdraw(key_of(name_)); }

VoidResult DirectoryExchange::send(const std::string& from, const std::string& to, std::vector<uint8_t> bytes) {
  auto known = known_.find(to);
  if (known != known_.end() && known->second) return tcp_->send(from, to, std::move(bytes));
  if (known != known_.end()) {
    return make_error(ErrorCode::kNotFound, "exchange: '" + to + "' is not in " + directory_.describe());
  }
  auto [it, inserted] = waiting_.try_emplace(to);
  if (inserted) {
    it->second.give_up_at = Clock::now() + std::chrono::milliseconds(lookup_timeout_ms_);
    it->second.next_lookup = Clock::now();
  }
  it->second.messages.emplace_back(from, std::move(bytes));
  resolve();
  return {};
}

std::optional<ExchangeMessage> DirectoryExchange::poll(const std::string& me) {
  if (!waiting_.empty()) resolve();
  return tcp_->poll(me);
}

void DirectoryExchange::resolve() {
  const Clock::time_point now = Clock::now();
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    const std::string& peer = it->first;
    Unresolved& w = it->second;
    if (now < w.next_lookup) {
      ++it;
      continue;
    }
    w.next_lookup = now + std::chrono::milliseconds(10);
    auto found = directory_.lookup(key_of(peer));
    if (found.ok() && found->has_value()) {
      if (auto added = tcp_->add_peer(peer, **found); !added.ok()) {
        last_error_ = "exchange: " + peer + "'s address in " + directory_.describe() + ": " + added.error().message;
        known_[peer] = false;
      } else {
        known_[peer] = true;
        for (auto& [from, bytes] : w.messages) {
          if (auto sent = tcp_->send(from, peer, std::move(bytes)); !sent.ok()) last_error_ = sent.error().to_string();
        }
      }
      it = waiting_.erase(it);
      continue;
    }
    if (!found.ok()) last_error_ = found.error().to_string();
    if (now >= w.give_up_at) {
      last_error_ = "exchange: '" + peer + "' did not appear in " + directory_.describe() + " within " +
                    std::to_string(lookup_timeout_ms_) + " ms; " + std::to_string(w.messages.size()) +
                    " message(s) to it dropped";
      known_[peer] = false;
      it = waiting_.erase(it);
      continue;
    }
    ++it;
  }
}

}  // namespace ferry::directory
