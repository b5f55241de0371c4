#include "tools/ferry/replay/world.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "transport/directory/directory_exchange.h"

namespace ferry::replay {

namespace {

// How far an idle fabric moves at most in one round: deadlines expire while nothing moves.
constexpr uint64_t kIdleTickNs = 1'000'000;

}  // namespace

World::World(std::unique_ptr<Cluster> fabric, const EngineConfig& engine_config,
             const std::vector<uint32_t>& rank_nodes, uint32_t gpus_per_node, bool rail_aligned, NodeLink* link)
    : fabric_(std::move(fabric)), link_(link), gpus_(std::max(1u, gpus_per_node)), origin_ns_(fabric_->now_ns()) {
  const uint32_t ranks = static_cast<uint32_t>(rank_nodes.size());
  registrations_.assign(ranks, 0);
  for (uint32_t r = 0; r < ranks; ++r) {
    std::vector<uint32_t> mine;  // empty: every NIC of the node
    if (!local(r)) {
      engines_.push_back(nullptr);
      open_results_.push_back(VoidResult{});
      rails_.push_back({});
      continue;
    }
    const uint32_t node = rank_nodes[r];
    if (node >= fabric_->node_count()) {
      engines_.push_back(nullptr);
      open_results_.push_back(make_error(ErrorCode::kOutOfRange, "placed on node " + std::to_string(node) +
                                                                      " of a fabric of " +
                                                                      std::to_string(fabric_->node_count()) + " nodes"));
      rails_.push_back({});
      continue;
    }
    Provider* provider = &fabric_->node(node);
    const uint32_t devices = static_cast<uint32_t>(provider->device_count());
    if (rail_aligned && devices > 0) mine = rails_of_gpu(r % gpus_, gpus_, devices);
    if (!mine.empty()) {
      views_.push_back(std::make_unique<RailSubset>(*provider, mine));
      provider = views_.back().get();
    }
    Exchange* exchange = &in_process_;
    VoidResult made;
    if (link_ != nullptr) {
      auto opened = directory::DirectoryExchange::open(link_->directory(), rank_name(r), link_->host(),
                                                       link_->peer_timeout_ms());
      if (opened.ok()) {
        exchanges_.push_back(std::move(opened).value());
        exchange = exchanges_.back().get();
      } else {
        made = opened.error();
      }
    } else {
      in_process_.add(rank_name(r));
    }
    if (mine.empty()) {
      for (uint32_t d = 0; d < devices; ++d) mine.push_back(d);
    }
    rails_.push_back(std::move(mine));
    if (!made.ok()) {
      engines_.push_back(nullptr);
      open_results_.push_back(made);
      continue;
    }
    engines_.push_back(std::make_unique<Engine>(rank_name(r), *provider, *exchange, engine_config));
    open_results_.push_back(engines_.back()->open());
  }
  for (uint32_t a = 0; a < ranks; ++a) {
    if (!engines_[a]) continue;
    for (uint32_t b = 0; b < ranks; ++b) {
      if (a != b) (void)engines_[a]->add_peer(rank_name(b));
    }
  }
}

World::~World() {
  // Groups and regions refer to engines; engines to the views, exchanges and fabric.
  regions_.clear();
  groups_.clear();
  engines_.clear();
  views_.clear();
  exchanges_.clear();
}

VoidResult World::opened() const {
  for (size_t rank = 0; rank < open_results_.size(); ++rank) {
    const VoidResult& r = open_results_[rank];
    if (!r.ok()) return make_error(r.error().code, rank_name(rank) + ": " + r.error().message);
  }
  return {};
}

bool World::any_local(const std::vector<uint32_t>& ranks) const {
  return std::any_of(ranks.begin(), ranks.end(), [this](uint32_t r) { return local(r); });
}

// On a virtual-time fabric hosting every node, the wire itself: its NIC counters, read
// exactly at the interval edge (run_until never moves the fabric past next_due_ns). Else
// what the local engines' rails completed, on the NICs they are.
void World::sample_nics(uint64_t counted_at_ns) {
  std::vector<std::vector<NicTotals>> totals;
  if (fabric_->virtual_time() && link_ == nullptr) {
    totals.resize(fabric_->node_count());
    for (uint32_t node = 0; node < totals.size(); ++node) {
      for (uint32_t nic = 0; nic < fabric_->nics_per_node(); ++nic) {
        const Result<NicCounters> c = fabric_->nic_counters(node, nic);
        totals[node].push_back(c.ok() ? NicTotals{c->tx_bytes, c->rx_bytes} : NicTotals{});
      }
    }
  } else {
    for (uint32_t rank = 0; rank < engines_.size(); ++rank) {
      if (!engines_[rank]) continue;
      const std::vector<TransferCounters> rails = engines_[rank]->stats().rails;
      if (totals.size() <= rank / gpus_) totals.resize(rank / gpus_ + 1);
      std::vector<NicTotals>& node = totals[rank / gpus_];
      for (size_t rail = 0; rail < rails.size() && rail < rails_[rank].size(); ++rail) {
        if (node.size() <= rails_[rank][rail]) node.resize(rails_[rank][rail] + 1);
        node[rails_[rank][rail]].tx += rails[rail].bytes;
      }
    }
  }
  nics_.sample(counted_at_ns, now_ns(), totals);
}

void World::drive() {
  bool any = false;
  for (auto& engine : engines_) {
    if (engine) any |= engine->progress();
  }
  if (!any && !fabric_->virtual_time()) fabric_->step();
}

// A round of the engines spelled out: the NIC samples must know whether the engines moved
// (virtual time may have too) or the idle fabric did.
bool World::run_until(const std::function<bool()>& done, uint64_t horizon_ns,
                      std::chrono::steady_clock::time_point wall_deadline, uint64_t wake_at_ns) {
  for (uint64_t i = 0;; ++i) {
    if (done()) return true;
    if ((i & 255) == 0) {
      if (std::chrono::steady_clock::now() > wall_deadline) return false;
      if (tick_) tick_();
      if (link_ != nullptr) {
        link_->pump();
        if (!link_->lost().empty()) return done();
      }
    }
    bool any = false;
    for (auto& engine : engines_) {
      if (engine) any |= engine->progress();
    }
    if (any) continue;
    // Every byte counted so far was counted before the fabric moves on: once it passes a
    // sample time, they belong to the interval of `before`.
    const uint64_t before = now_ns();
    fabric().advance(
        fabric_ns(std::min({before + kIdleTickNs, nics_.next_due_ns(), std::max(wake_at_ns, before + 1)})));
    if (now_ns() >= nics_.next_due_ns()) sample_nics(before);
    if (now_ns() > horizon_ns) return done();
  }
}

void World::begin_workload(uint32_t index) {
  workload_ = index;
  std::fill(registrations_.begin(), registrations_.end(), 0);
}

std::vector<std::unique_ptr<Group>>& World::groups(const std::vector<uint32_t>& ranks) {
  for (auto& [key, groups] : groups_) {
    if (key == ranks) return *groups;
  }
  std::vector<std::string> names;
  for (uint32_t r : ranks) names.push_back(rank_name(r));
  auto groups = std::make_unique<std::vector<std::unique_ptr<Group>>>();
  for (uint32_t i = 0; i < ranks.size(); ++i) {
    groups->push_back(local(ranks[i]) ? std::make_unique<Group>(engine(ranks[i]), i, names) : nullptr);
  }
  groups_.emplace_back(ranks, std::move(groups));
  return *groups_.back().second;
}

Result<Buffer> World::registered(uint32_t rank, uint64_t bytes) {
  Buffer out{rank, (uint64_t{workload_} << 32) | registrations_.at(rank)++, nullptr};
  if (!local(rank)) return out;
  auto buffer = std::make_unique<uint8_t[]>(bytes == 0 ? 1 : bytes);
  std::memset(buffer.get(), 0, bytes);
  auto reg = engine(rank).register_memory(buffer.get(), bytes == 0 ? 1 : bytes);
  if (!reg.ok()) {
    return make_error(reg.error().code,
                      rank_name(rank) + ": registering " + std::to_string(bytes) + " B: " + reg.error().to_string());
  }
  std::vector<uint8_t> descriptor = (*reg)->descriptor().serialize();
  if (link_ != nullptr) {
    if (auto posted = link_->post(link_->others(), "region/" + std::to_string(rank), out.id, descriptor);
        !posted.ok()) {
      return make_error(posted.error().code, rank_name(rank) + "'s region: " + posted.error().message);
    }
  }
  descriptors_[{rank, out.id}] = std::move(descriptor);
  out.data = buffer.get();
  buffers_.push_back(std::move(buffer));
  return out;
}

Result<RemoteRegion> World::import(uint32_t importer, const Buffer& buffer) {
  auto found = descriptors_.find({buffer.rank, buffer.id});
  if (found == descriptors_.end() && link_ != nullptr && !local(buffer.rank)) {
    const uint32_t owner = buffer.rank / gpus_;
    auto got = link_->await({owner}, "region/" + std::to_string(buffer.rank), buffer.id, [this] { drive(); },
                            rank_name(importer) + " waiting for " + rank_name(buffer.rank) + "'s region");
    if (!got.ok()) return got.error();
    found = descriptors_.emplace(std::make_pair(buffer.rank, buffer.id), std::move(got->at(owner))).first;
  }
  if (found == descriptors_.end()) return make_error(ErrorCode::kNotFound, "no registered buffer to import");
  auto region = engine(importer).import_region(rank_name(buffer.rank), found->second);
  if (!region.ok()) {
    return make_error(region.error().code, rank_name(importer) + " importing from " + rank_name(buffer.rank) + ": " +
                                               region.error().to_string());
  }
  return *region;
}

Result<SymmetricRegion*> World::symmetric(const std::vector<uint32_t>& ranks, uint64_t bytes) {
  auto views = std::make_unique<std::vector<SymmetricRegion>>(ranks.size());
  std::vector<Buffer> buffers;
  for (size_t i = 0; i < ranks.size(); ++i) {
    Result<Buffer> buffer = registered(ranks[i], bytes);
    if (!buffer.ok()) return buffer.error();
    buffers.push_back(*buffer);
    if (!local(ranks[i])) continue;
    (*views)[i].local = buffer->data;
    (*views)[i].bytes = bytes;
    (*views)[i].remote.resize(ranks.size());
  }
  for (size_t i = 0; i < ranks.size(); ++i) {
    if (!local(ranks[i])) continue;
    for (size_t j = 0; j < ranks.size(); ++j) {
      if (i == j) continue;
      Result<RemoteRegion> remote = import(ranks[i], buffers[j]);
      if (!remote.ok()) return remote.error();
      (*views)[i].remote[j] = *remote;
    }
  }
  regions_.push_back(std::move(views));
  return regions_.back()->data();
}

VoidResult World::meet(const std::vector<uint32_t>& ranks, uint64_t key, const std::string& what) {
  if (link_ == nullptr) return {};
  std::set<uint32_t> nodes;
  for (uint32_t r : ranks) nodes.insert(r / gpus_);
  if (nodes.size() <= 1 && nodes.count(link_->node())) return {};
  const std::vector<uint32_t> others(nodes.begin(), nodes.end());
  auto met = link_->gather(others, "meet", (uint64_t{workload_} << 32) | key, {}, [this] { drive(); }, what);
  if (!met.ok()) return met.error();
  return {};
}

}  // namespace ferry::replay
