#include "transport/workloads/weights/transfer_window.h"

#include <utility>

namespace ferry::weights {

void TransferWindow::start(std::string what, const Start& begin) {
  ++out_;
  auto started = begin([this, what](const TransferResult& result) { finished(what, result); });
  if (!started.ok()) {
    // The engine never calls back after a refusal.
    finished(what, started.error());
  }
}

void TransferWindow::finished(const std::string& what, const TransferResult& result) {
  --out_;
  if (!result.ok() && !failure_) failure_ = make_error(result.error().code, what + ": " + result.error().message);
  if (waiter_ && out_ < wake_below_) std::exchange(waiter_, nullptr).resume();
}

}  // namespace ferry::weights
