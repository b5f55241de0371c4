#include "tools/ferry/replay/nic_timeline.h"

#include <algorithm>
#include <string>

namespace ferry::replay {

NicRecorder::NicRecorder(uint32_t gpus_per_node, std::vector<std::vector<uint32_t>> rails)
    : gpus_per_node_(std::max(1u, gpus_per_node)), rails_(std::move(rails)) {
  last_.resize(rails_.size());
  nodes_.resize((rails_.size() + gpus_per_node_ - 1) / gpus_per_node_);
}

void NicRecorder::merge_pairs() {
  for (auto& node : nodes_) {
    for (auto& nic : node) {
      for (size_t i = 0; i < nic.size(); i += 2) nic[i / 2] = nic[i] + (i + 1 < nic.size() ? nic[i + 1] : 0);
      nic.resize((nic.size() + 1) / 2);
    }
  }
  interval_ns_ *= 2;
}

void NicRecorder::sample(uint64_t counted_at_ns, uint64_t now_ns,
                         const std::function<std::vector<uint64_t>(uint32_t)>& rail_bytes) {
  while (counted_at_ns / interval_ns_ >= kMaxIntervals || now_ns / interval_ns_ >= kMaxIntervals) merge_pairs();
  const size_t interval = counted_at_ns / interval_ns_;
  for (uint32_t r = 0; r < rails_.size(); ++r) {
    const std::vector<uint64_t> totals = rail_bytes(r);
    std::vector<uint64_t>& last = last_[r];
    last.resize(std::max(last.size(), totals.size()), 0);
    for (size_t rail = 0; rail < totals.size() && rail < rails_[r].size(); ++rail) {
      const uint64_t sent = totals[rail] - std::min(totals[rail], last[rail]);
      last[rail] = totals[rail];
      if (sent == 0) continue;
      auto& node = nodes_[r / gpus_per_node_];
      const uint32_t nic_index = rails_[r][rail];
      if (node.size() <= nic_index) node.resize(nic_index + 1);
      std::vector<uint64_t>& nic = node[nic_index];
      if (nic.size() <= interval) nic.resize(interval + 1, 0);
      nic[interval] += sent;
    }
  }
  next_due_ns_ = (now_ns / interval_ns_ + 1) * interval_ns_;
}

std::vector<NicTimeline> NicRecorder::timelines(uint64_t end_ns) const {
  std::vector<NicTimeline> out;
  const size_t intervals = std::max<size_t>(1, (end_ns + interval_ns_ - 1) / interval_ns_);
  for (size_t n = 0; n < nodes_.size(); ++n) {
    for (size_t i = 0; i < nodes_[n].size(); ++i) {
      if (nodes_[n][i].empty()) continue;
      NicTimeline t;
      t.name = "node" + std::to_string(n) + "/nic" + std::to_string(i);
      t.bytes = nodes_[n][i];
      t.bytes.resize(std::max(intervals, t.bytes.size()), 0);
      out.push_back(std::move(t));
    }
  }
  return out;
}

}  // namespace ferry::replay
