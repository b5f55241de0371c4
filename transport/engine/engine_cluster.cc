#include "transport/engine/engine_cluster.h"

#include <algorithm>
#include <utility>

namespace ferry {

std::string rank_name(size_t rank) { return "rank" + std::to_string(rank); }

namespace {

// An error for a placement the fabric cannot hold, or ok.
VoidResult check_placement(const RankPlacement& p, const Cluster& fabric) {
  if (p.node >= fabric.node_count()) {
    return make_error(ErrorCode::kOutOfRange, "placed on node " + std::to_string(p.node) + " of a fabric of " +
                                                  std::to_string(fabric.node_count()) + " nodes");
  }
  for (uint32_t rail : p.rails) {
    if (rail >= fabric.nics_per_node()) {
      return make_error(ErrorCode::kOutOfRange, "rail " + std::to_string(rail) + " of a node of " +
                                                    std::to_string(fabric.nics_per_node()) + " NICs");
    }
  }
  return {};
}

}  // namespace

EngineCluster::EngineCluster(std::unique_ptr<Cluster> fabric, const EngineConfig& config,
                             std::vector<RankPlacement> placement)
    : fabric_(std::move(fabric)), placement_(std::move(placement)) {
  if (placement_.empty()) {
    for (uint32_t node = 0; node < fabric_->node_count(); ++node) placement_.push_back(RankPlacement{node, {}});
  }
  for (size_t rank = 0; rank < placement_.size(); ++rank) {
    const RankPlacement& p = placement_[rank];
    exchange_.add(rank_name(rank));
    VoidResult placed = check_placement(p, *fabric_);
    // A rank that cannot be placed still gets an engine (over node 0, never opened) so
    // that engine(rank) stays valid; opened() reports it.
    Provider* provider = &fabric_->node(placed.ok() ? p.node : 0);
    if (placed.ok() && !p.rails.empty()) {
      views_.push_back(std::make_unique<RailSubset>(*provider, p.rails));
      provider = views_.back().get();
    }
    engines_.push_back(std::make_unique<Engine>(rank_name(rank), *provider, exchange_, config));
    open_results_.push_back(placed.ok() ? engines_.back()->open() : placed);
  }
  for (size_t a = 0; a < engines_.size(); ++a) {
    for (size_t b = 0; b < engines_.size(); ++b) {
      if (a != b) (void)engines_[a]->add_peer(rank_name(b));
    }
  }
}

EngineCluster::~EngineCluster() {
  engines_.clear();
  views_.clear();
}

VoidResult EngineCluster::opened() const {
  for (size_t rank = 0; rank < open_results_.size(); ++rank) {
    const VoidResult& r = open_results_[rank];
    if (!r.ok()) return make_error(r.error().code, rank_name(rank) + ": " + r.error().message);
  }
  return {};
}

bool EngineCluster::round(uint64_t advance_limit_ns) {
  bool any = false;
  for (auto& engine : engines_) any |= engine->progress();
  if (any) return true;
  const uint64_t now = fabric_->now_ns();
  const uint64_t tick_end = idle_tick_ns > UINT64_MAX - now ? UINT64_MAX : now + idle_tick_ns;
  fabric_->advance(std::min(tick_end, advance_limit_ns));
  // Real time moves on its own: only virtual time has a horizon.
  return !fabric_->virtual_time() || fabric_->now_ns() <= horizon_ns;
}

bool EngineCluster::run_until(const std::function<bool()>& done, size_t max_rounds) {
  for (size_t i = 0; i < max_rounds; ++i) {
    if (done()) return true;
    if (!round()) return done();
  }
  return done();
}

}  // namespace ferry
