// NicRecorder: bytes each cluster NIC sent and received per interval of (virtual) time,
// for the throughput charts of report.html and trace.json and the line-rate check of
// nic_line_rate_test. World feeds it running totals per NIC: the fabric's wire counters
// (Cluster::nic_counters) where time is virtual, sampled exactly at interval edges, else
// what the engines' rails completed (sent only).
//
// The interval starts at 1 us and doubles (neighbouring intervals merged) whenever the
// run outgrows kMaxIntervals, so any run ends with between kMaxIntervals / 2 and
// kMaxIntervals intervals (fewer only when it is shorter than that many microseconds).
#pragma once

#include <cstdint>
#include <vector>

#include "tools/ferry/replay/replay.h"

namespace ferry::replay {

// Running totals of one NIC since the run began.
struct NicTotals {
  uint64_t tx = 0;
  uint64_t rx = 0;
};

class NicRecorder {
 public:
  static constexpr uint64_t kFirstIntervalNs = 1'000;
  static constexpr size_t kMaxIntervals = 400;

  // Time at which the next sample is due.
  uint64_t next_due_ns() const { return next_due_ns_; }
  // Adds what every NIC moved since the last sample to the interval holding
  // `counted_at_ns` (when those bytes were counted); `totals[node][nic]` are the running
  // totals. Then schedules the next sample after `now_ns`.
  void sample(uint64_t counted_at_ns, uint64_t now_ns, const std::vector<std::vector<NicTotals>>& totals);

  uint64_t interval_ns() const { return interval_ns_; }
  // One timeline per NIC that moved anything, every one `intervals` long.
  std::vector<NicTimeline> timelines(uint64_t end_ns) const;

 private:
  struct Nic {
    NicTotals last;  // totals at the last sample
    std::vector<uint64_t> tx, rx;  // [interval]
  };
  void merge_pairs();

  uint64_t interval_ns_ = kFirstIntervalNs;
  uint64_t next_due_ns_ = kFirstIntervalNs;
  std::vector<std::vector<Nic>> nodes_;  // [node][nic]
};

}  // namespace ferry::replay
