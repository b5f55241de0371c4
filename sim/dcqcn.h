// The DCQCN reaction point of one endpoint (Zhu et al., SIGCOMM 2015): its sending rate,
// cut on every congestion notification (CNP) and raised back in fast recovery, additive
// and hyper increase stages, on a timer and a byte counter.
//
// Alpha, the estimate of how congested the path is, is updated once per alpha_timer_ns:
// up (alpha = (1 - g) alpha + g) after a period that had a CNP, down (alpha = (1 - g)
// alpha) after one that had none. It is brought up to date lazily, when a CNP comes, so an
// endpoint that is not recovering needs no timer at all.
#pragma once

#include <cstdint>

#include "sim/config.h"

namespace ferry::sim {

class DcqcnRate {
 public:
  DcqcnRate(const CongestionConfig& config, double line_gbps);

  double gbps() const { return current_; }
  double alpha() const { return alpha_; }
  // Below line rate, or aiming below it: the increase timer must run.
  bool recovering() const { return current_ < line_ || target_ < line_; }

  void on_cnp(uint64_t now_ns);
  void on_timer();                // one rate-increase timer period passed
  void on_sent(uint64_t bytes);   // feeds the byte counter

 private:
  void increase();
  void update_alpha(uint64_t now_ns);

  const CongestionConfig& config_;
  const double line_;
  double current_;
  double target_;
  double alpha_ = 1;
  uint64_t alpha_period_start_ns_ = 0;
  bool cnp_in_period_ = false;
  uint32_t timer_events_ = 0;
  uint32_t byte_events_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace ferry::sim
