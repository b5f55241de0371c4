// What a Cluster of providers in wall-clock time (verbs, ipc) does the same way: the
// providers move by themselves, so there is no time to drive, and no trace hash; at()
// callbacks run from step() once they are due.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "transport/cluster.h"

namespace ferry {

class WallClockCluster : public Cluster {
 public:
  explicit WallClockCluster(std::vector<std::unique_ptr<Provider>> providers) : providers_(std::move(providers)) {}

  size_t node_count() const override { return providers_.size(); }
  Provider& node(size_t index) override { return *providers_.at(index); }
  bool virtual_time() const override { return false; }
  uint64_t now_ns() const override { return providers_.front()->clock().now_ns(); }
  // Lets every provider progress (retries that are due), then runs the callbacks of at()
  // whose time came.
  bool step() override;
  void advance(uint64_t) override { step(); }
  void run_until(uint64_t) override { step(); }
  void at(uint64_t t_ns, std::function<void()> fn) override { pending_.push_back({t_ns, std::move(fn)}); }
  uint64_t trace_hash() const override { return 0; }

 protected:
  std::vector<std::unique_ptr<Provider>> providers_;

 private:
  struct Pending {
    uint64_t at_ns;
    std::function<void()> fn;
  };
  std::vector<Pending> pending_;
};

}  // namespace ferry
