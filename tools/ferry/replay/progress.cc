#include "tools/ferry/replay/progress.h"

#include <algorithm>

namespace ferry::replay {

using Clock = std::chrono::steady_clock;

void ProgressDisplay::started(size_t index, const std::string& name, const std::string& kind) {
  index_ = index, name_ = name, kind_ = kind;
  started_at_ = Clock::now();
  if (style_ == ProgressStyle::kLines) {
    std::fprintf(out_, "replay: [%zu/%zu] %s (%s) ...\n", index_ + 1, workloads_, name_.c_str(), kind_.c_str());
  } else if (style_ == ProgressStyle::kBar) {
    draw(0, 0, 0);
  }
  std::fflush(out_);
}

void ProgressDisplay::update(uint64_t operations, uint64_t planned, uint64_t simulated_ns) {
  if (style_ != ProgressStyle::kBar) return;
  const Clock::time_point now = Clock::now();
  if (now - drawn_at_ < std::chrono::milliseconds(100)) return;
  draw(operations, planned, simulated_ns);
}

void ProgressDisplay::draw(uint64_t operations, uint64_t planned, uint64_t simulated_ns) {
  constexpr int kWidth = 24;
  const double done = planned == 0 ? 0 : std::min(1.0, static_cast<double>(operations) / static_cast<double>(planned));
  const int filled = static_cast<int>(done * kWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  const double wall = std::chrono::duration<double>(Clock::now() - started_at_).count();
  // \r and erase-line: the bar replaces itself.
  std::fprintf(out_, "\r\033[K[%zu/%zu] %s (%s) [%s] %llu/%llu ops, %.3f ms simulated, %.1f s wall", index_ + 1,
               workloads_, name_.c_str(), kind_.c_str(), bar.c_str(), static_cast<unsigned long long>(operations),
               static_cast<unsigned long long>(planned), simulated_ns / 1e6, wall);
  std::fflush(out_);
  drawn_at_ = Clock::now();
}

void ProgressDisplay::finished(bool ok, uint64_t operations, uint64_t simulated_ns, double wall_s) {
  if (style_ == ProgressStyle::kNone) return;
  if (style_ == ProgressStyle::kBar) std::fputs("\r\033[K", out_);
  std::fprintf(out_, "replay: [%zu/%zu] %s: %s, %llu ops, %.3f ms simulated, %.2f s wall\n", index_ + 1, workloads_,
               name_.c_str(), ok ? "ok" : "FAILED", static_cast<unsigned long long>(operations), simulated_ns / 1e6,
               wall_s);
  std::fflush(out_);
}

}  // namespace ferry::replay
