#include "sim/dcqcn.h"

#include <algorithm>
#include <cmath>

namespace ferry::sim {

DcqcnRate::DcqcnRate(const CongestionConfig& config, double line_gbps)
    : config_(config), line_(line_gbps), current_(line_gbps), target_(line_gbps) {}

// Closes the alpha periods that ended before now: the first may have had a CNP, the
// others had none.
void DcqcnRate::update_alpha(uint64_t now_ns) {
  const uint64_t periods = (now_ns - alpha_period_start_ns_) / config_.alpha_timer_ns;
  if (periods == 0) return;
  const double g = config_.g;
  alpha_ = cnp_in_period_ ? (1 - g) * alpha_ + g : (1 - g) * alpha_;
  alpha_ *= std::pow(1 - g, static_cast<double>(periods - 1));
  alpha_period_start_ns_ += periods * config_.alpha_timer_ns;
  cnp_in_period_ = false;
}

void DcqcnRate::on_cnp(uint64_t now_ns) {
  update_alpha(now_ns);
  cnp_in_period_ = true;
  target_ = current_;
  current_ = std::max(config_.min_rate_gbps, current_ * (1 - alpha_ / 2));
  timer_events_ = 0;
  byte_events_ = 0;
  bytes_ = 0;
}

void DcqcnRate::on_timer() {
  ++timer_events_;
  increase();
}

void DcqcnRate::on_sent(uint64_t bytes) {
  if (!recovering()) return;
  bytes_ += bytes;
  while (bytes_ >= config_.byte_counter_bytes) {
    bytes_ -= config_.byte_counter_bytes;
    ++byte_events_;
    increase();
  }
}

// Fast recovery halves the distance to the target until either counter passed F
// events; then the target grows, additively, or hyper-additively once both counters
// passed F.
void DcqcnRate::increase() {
  const uint32_t f = config_.fast_recovery_steps;
  const uint32_t low = std::min(timer_events_, byte_events_);
  if (std::max(timer_events_, byte_events_) >= f) {
    target_ += low > f ? (low - f) * config_.hyper_increase_gbps : config_.additive_increase_gbps;
    target_ = std::min(target_, line_);
  }
  current_ = std::min(line_, (target_ + current_) / 2);
  // Within a rounding error of the line: back at line rate.
  if (line_ - current_ < 1e-9 * line_) current_ = line_;
}

}  // namespace ferry::sim
