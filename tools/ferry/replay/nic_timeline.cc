#include "tools/ferry/replay/nic_timeline.h"

#include <algorithm>
#include <string>

namespace ferry::replay {
namespace {

void merge(std::vector<uint64_t>& v) {
  for (size_t i = 0; i < v.size(); i += 2) v[i / 2] = v[i] + (i + 1 < v.size() ? v[i + 1] : 0);
  v.resize((v.size() + 1) / 2);
}

void add(std::vector<uint64_t>& v, size_t interval, uint64_t bytes) {
  if (bytes == 0) return;
  if (v.size() <= interval) v.resize(interval + 1, 0);
  v[interval] += bytes;
}

}  // namespace

void NicRecorder::merge_pairs() {
  for (auto& node : nodes_) {
    for (Nic& nic : node) {
      merge(nic.tx);
      merge(nic.rx);
    }
  }
  interval_ns_ *= 2;
}

void NicRecorder::sample(uint64_t counted_at_ns, uint64_t now_ns, const std::vector<std::vector<NicTotals>>& totals) {
  while (counted_at_ns / interval_ns_ >= kMaxIntervals || now_ns / interval_ns_ >= kMaxIntervals) merge_pairs();
  const size_t interval = counted_at_ns / interval_ns_;
  if (nodes_.size() < totals.size()) nodes_.resize(totals.size());
  for (size_t n = 0; n < totals.size(); ++n) {
    if (nodes_[n].size() < totals[n].size()) nodes_[n].resize(totals[n].size());
    for (size_t i = 0; i < totals[n].size(); ++i) {
      Nic& nic = nodes_[n][i];
      const NicTotals& now = totals[n][i];
      add(nic.tx, interval, now.tx - std::min(now.tx, nic.last.tx));
      add(nic.rx, interval, now.rx - std::min(now.rx, nic.last.rx));
      nic.last = now;
    }
  }
  next_due_ns_ = (now_ns / interval_ns_ + 1) * interval_ns_;
}

std::vector<NicTimeline> NicRecorder::timelines(uint64_t end_ns) const {
  std::vector<NicTimeline> out;
  const size_t intervals = std::max<size_t>(1, (end_ns + interval_ns_ - 1) / interval_ns_);
  for (size_t n = 0; n < nodes_.size(); ++n) {
    for (size_t i = 0; i < nodes_[n].size(); ++i) {
      const Nic& nic = nodes_[n][i];
      if (nic.tx.empty() && nic.rx.empty()) continue;
      NicTimeline t;
      t.name = "node" + std::to_string(n) + "/nic" + std::to_string(i);
      t.bytes = nic.tx;
      t.rx_bytes = nic.rx;
      const size_t length = std::max({intervals, t.bytes.size(), t.rx_bytes.size()});
      t.bytes.resize(length, 0);
      t.rx_bytes.resize(length, 0);
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace ferry::replay
