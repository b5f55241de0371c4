#include "transport/engine/exchange.h"

namespace ferry {

void InProcessExchange::add(const std::string& name) {
  std::lock_guard lock(mutex_);
  boxes_[name];
}

void InProcessExchange::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  boxes_.erase(name);
}

VoidResult InProcessExchange::send(const std::string& from, const std::string& to,
                                   std::vector<uint8_t> bytes) {
  std::lock_guard lock(mutex_);
  auto it = boxes_.find(to);
  if (it == boxes_.end()) {
    return make_error(ErrorCode::kNotFound, "no engine named '" + to + "' on the exchange");
  }
  it->second.push_back(ExchangeMessage{from, std::move(bytes)});
  return {};
}

std::optional<ExchangeMessage> InProcessExchange::poll(const std::string& me) {
  std::lock_guard lock(mutex_);
  auto it = boxes_.find(me);
  if (it == boxes_.end() || it->second.empty()) return std::nullopt;
  ExchangeMessage message = std::move(it->second.front());
  it->second.pop_front();
  return message;
}

}  // namespace ferry
