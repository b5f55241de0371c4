// ProgressDisplay: what a replay shows on stderr while it runs. On a terminal, one bar
// redrawn in place (workload i/n, operations done/planned, simulated and wall time);
// elsewhere a plain line as each workload starts and ends; nothing when quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace ferry::replay {

enum class ProgressStyle { kNone, kLines, kBar };

class ProgressDisplay {
 public:
  ProgressDisplay(ProgressStyle style, size_t workloads, std::FILE* out = stderr)
      : style_(style), workloads_(workloads), out_(out) {}

  void started(size_t index, const std::string& name, const std::string& kind);
  // Redraws the bar, at most ten times a second.
  void update(uint64_t operations, uint64_t planned, uint64_t simulated_ns);
  void finished(bool ok, uint64_t operations, uint64_t simulated_ns, double wall_s);

 private:
  void draw(uint64_t operations, uint64_t planned, uint64_t simulated_ns);

  ProgressStyle style_;
  size_t workloads_;
  std::FILE* out_;
  size_t index_ = 0;
  std::string name_, kind_;
  std::chrono::steady_clock::time_point started_at_{}, drawn_at_{};
};

}  // namespace ferry::replay
