// Where time comes from. Every component reads time through a Clock so that the same
// code runs on real time (hardware, emu fast mode) and on virtual time (emu
// deterministic mode, sim), where one thread drives a whole cluster.
#pragma once

#include <chrono>
#include <cstdint>

namespace ferry {

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since an arbitrary, fixed origin; never goes backwards.
  virtual uint64_t now_ns() const = 0;
  // Whether now_ns() follows real time, so that another real-time source (the CPU's
  // cycle counter) can be measured against it.
  virtual bool is_wall_time() const { return false; }
};

class SteadyClock final : public Clock {
 public:
  uint64_t now_ns() const override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }
  bool is_wall_time() const override { return true; }
};

}  // namespace ferry
