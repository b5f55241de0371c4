#include "tools/ferry/replay/world.h"

#include <algorithm>
#include <cstring>

namespace ferry::replay {

World::World(std::unique_ptr<Cluster> fabric, const EngineConfig& engine_config,
             const std::vector<uint32_t>& rank_nodes, uint32_t gpus_per_node, bool rail_aligned)
    : origin_ns_(fabric->now_ns()) {
  const uint32_t gpus = std::max(1u, gpus_per_node);
  std::vector<RankPlacement> placement;
  std::vector<std::vector<uint32_t>> rails;  // every rank's NICs, spelled out for the timelines
  for (uint32_t r = 0; r < rank_nodes.size(); ++r) {
    const uint32_t devices = static_cast<uint32_t>(fabric->node(rank_nodes[r]).device_count());
    std::vector<uint32_t> mine;  // empty: every NIC of the node
    if (rail_aligned && devices > 0) mine = rails_of_gpu(r % gpus, gpus, devices);
    placement.push_back(RankPlacement{rank_nodes[r], mine});
    if (mine.empty()) {
      for (uint32_t d = 0; d < devices; ++d) mine.push_back(d);
    }
    rails.push_back(std::move(mine));
  }
  nics_ = std::make_unique<NicRecorder>(gpus, std::move(rails));
  cluster_ = std::make_unique<EngineCluster>(std::move(fabric), engine_config, std::move(placement));
}

World::~World() {
  // Groups and regions refer to engines.
  regions_.clear();
  groups_.clear();
}

VoidResult World::opened() const { return cluster_->opened(); }

void World::sample_nics(uint64_t counted_at_ns) {
  nics_->sample(counted_at_ns, now_ns(), [this](uint32_t rank) {
    std::vector<uint64_t> totals;
    for (const TransferCounters& rail : engine(rank).stats().rails) totals.push_back(rail.bytes);
    return totals;
  });
}

// EngineCluster::round() spelled out: the NIC samples must know whether the engines moved
// (virtual time may have too) or the idle fabric did.
bool World::run_until(const std::function<bool()>& done, uint64_t horizon_ns,
                      std::chrono::steady_clock::time_point wall_deadline, uint64_t wake_at_ns) {
  const uint64_t idle_tick_ns = cluster_->idle_tick_ns;
  for (uint64_t i = 0;; ++i) {
    if (done()) return true;
    if ((i & 255) == 0) {
      if (std::chrono::steady_clock::now() > wall_deadline) return false;
      if (tick_) tick_();
    }
    bool any = false;
    for (size_t r = 0; r < cluster_->size(); ++r) any |= cluster_->engine(r).progress();
    if (any) continue;
    // Every byte counted so far was counted before the fabric moves on: once it passes a
    // sample time, they belong to the interval of `before`.
    const uint64_t before = now_ns();
    fabric().advance(
        fabric_ns(std::min({before + idle_tick_ns, nics_->next_due_ns(), std::max(wake_at_ns, before + 1)})));
    if (now_ns() >= nics_->next_due_ns()) sample_nics(before);
    if (now_ns() > horizon_ns) return done();
  }
}

std::vector<Group>& World::groups(const std::vector<uint32_t>& ranks) {
  for (auto& [key, groups] : groups_) {
    if (key == ranks) return *groups;
  }
  std::vector<std::string> names;
  for (uint32_t r : ranks) names.push_back(rank_name(r));
  auto groups = std::make_unique<std::vector<Group>>();
  for (uint32_t i = 0; i < ranks.size(); ++i) groups->emplace_back(engine(ranks[i]), i, names);
  groups_.emplace_back(ranks, std::move(groups));
  return *groups_.back().second;
}

Result<uint8_t*> World::registered(uint32_t rank, uint64_t bytes) {
  auto buffer = std::make_unique<uint8_t[]>(bytes == 0 ? 1 : bytes);
  std::memset(buffer.get(), 0, bytes);
  auto reg = engine(rank).register_memory(buffer.get(), bytes == 0 ? 1 : bytes);
  if (!reg.ok()) {
    return make_error(reg.error().code,
                      rank_name(rank) + ": registering " + std::to_string(bytes) + " B: " + reg.error().to_string());
  }
  descriptors_.emplace_back(buffer.get(), (*reg)->descriptor().serialize());
  buffers_.push_back(std::move(buffer));
  return buffers_.back().get();
}

Result<RemoteRegion> World::import(uint32_t importer, uint32_t owner, const uint8_t* addr) {
  for (const auto& [start, descriptor] : descriptors_) {
    if (start != addr) continue;
    auto region = engine(importer).import_region(rank_name(owner), descriptor);
    if (!region.ok()) {
      return make_error(region.error().code, rank_name(importer) + " importing from " + rank_name(owner) + ": " +
                                                 region.error().to_string());
    }
    return *region;
  }
  return make_error(ErrorCode::kNotFound, "no registered buffer to import");
}

Result<SymmetricRegion*> World::symmetric(const std::vector<uint32_t>& ranks, uint64_t bytes) {
  auto views = std::make_unique<std::vector<SymmetricRegion>>(ranks.size());
  for (size_t i = 0; i < ranks.size(); ++i) {
    Result<uint8_t*> local = registered(ranks[i], bytes);
    if (!local.ok()) return local.error();
    (*views)[i].local = *local;
    (*views)[i].bytes = bytes;
    (*views)[i].remote.resize(ranks.size());
  }
  for (size_t i = 0; i < ranks.size(); ++i) {
    for (size_t j = 0; j < ranks.size(); ++j) {
      if (i == j) continue;
      Result<RemoteRegion> remote = import(ranks[i], ranks[j], (*views)[j].local);
      if (!remote.ok()) return remote.error();
      (*views)[i].remote[j] = *remote;
    }
  }
  regions_.push_back(std::move(views));
  return regions_.back()->data();
}

}  // namespace ferry::replay
