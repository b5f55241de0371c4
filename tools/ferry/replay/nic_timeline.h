// NicRecorder: bytes each cluster NIC sent per interval of (virtual) time, from the
// engines' per-rail counters, for the throughput charts of report.html and trace.json.
//
// The interval starts at 1 us and doubles (neighbouring intervals merged) whenever the
// run outgrows kMaxIntervals, so any run ends with between kMaxIntervals / 2 and
// kMaxIntervals intervals (fewer only when it is shorter than that many microseconds).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "tools/ferry/replay/replay.h"

namespace ferry::replay {

class NicRecorder {
 public:
  static constexpr uint64_t kFirstIntervalNs = 1'000;
  static constexpr size_t kMaxIntervals = 400;

  // Rank r's rail i is NIC rails[r][i] of cluster node r / gpus_per_node.
  NicRecorder(uint32_t gpus_per_node, std::vector<std::vector<uint32_t>> rails);

  // Time at which the next sample is due.
  uint64_t next_due_ns() const { return next_due_ns_; }
  // Adds what every rank's rails sent since the last sample to the interval holding
  // `counted_at_ns` (when those bytes were counted); `rail_bytes(rank)` gives a rank's
  // running totals per rail. Then schedules the next sample after `now_ns`.
  void sample(uint64_t counted_at_ns, uint64_t now_ns, const std::function<std::vector<uint64_t>(uint32_t)>& rail_bytes);

  uint64_t interval_ns() const { return interval_ns_; }
  // One timeline per NIC that sent anything, every one `intervals` long.
  std::vector<NicTimeline> timelines(uint64_t end_ns) const;

 private:
  void merge_pairs();

  uint32_t gpus_per_node_;
  std::vector<std::vector<uint32_t>> rails_;
  uint64_t interval_ns_ = kFirstIntervalNs;
  uint64_t next_due_ns_ = kFirstIntervalNs;
  std::vector<std::vector<uint64_t>> last_;   // [rank][rail]: totals at the last sample
  std::vector<std::vector<std::vector<uint64_t>>> nodes_;  // [node][nic][interval]
};

}  // namespace ferry::replay
