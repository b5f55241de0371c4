#include "python/ferry/_native/core.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "python/ferry/_native/errors.h"

namespace ferry::python {

void Pending::settle(Core& core) {
  for (const Hold& h : held) (void)core.release(h);
  held.clear();
}

Core::Core(const fabrics::ClusterOptions& options, const EngineConfig& config) : provider_(options.provider) {
  auto fabric = take(fabrics::make_cluster(options));
  cluster_ = std::make_unique<EngineCluster>(std::move(fabric), config);
  check(cluster_->opened());
  // Waits are bounded in wall-clock time by their caller and every transfer by its
  // engine deadline, so virtual time may run as long as the cluster lives.
  cluster_->horizon_ns = UINT64_MAX;
  size_ = cluster_->size();
  registered_.resize(size_);
}

Core::Core(const ProcessNodeOptions& options, const EngineConfig& config, uint64_t lookup_timeout_ms)
    : provider_(options.provider), size_(options.nodes), node_rank_(options.node) {
  node_ = take(ProcessNode::open(options, config, lookup_timeout_ms));
  registered_.resize(size_);
  keeper_ = std::thread([this] { tend(); });
}

Core::~Core() { close(); }

std::unique_lock<std::mutex> Core::lock() {
  std::unique_lock<std::mutex> l(mu_);
  if (closed_) fail(ErrorCode::kFailedPrecondition, "the cluster is closed");
  return l;
}

Engine& Core::engine(size_t rank) {
  if (rank >= size_) fail(ErrorCode::kOutOfRange, "rank " + std::to_string(rank) + " of a cluster of " + std::to_string(size_));
  if (!node_) return cluster_->engine(rank);
  if (rank != *node_rank_) {
    fail(ErrorCode::kFailedPrecondition, rank_name(rank) + " runs in another process: this one holds " +
                                             rank_name(*node_rank_) + " only");
  }
  return node_->engine();
}

EngineCluster& Core::cluster(const char* what) {
  if (!cluster_) {
    fail(ErrorCode::kFailedPrecondition, std::string(what) + " needs every rank in this process; this cluster spans processes");
  }
  return *cluster_;
}

ProcessNode& Core::node() {
  if (!node_) fail(ErrorCode::kFailedPrecondition, "this cluster is in one process: it has no directory");
  return *node_;
}

uint64_t Core::now_ns() { return node_ ? node_->now_ns() : cluster_->fabric().now_ns(); }

bool Core::round() {
  if (node_) return node_->progress();
  cluster_->round();
  return true;
}

void Core::tend() {
  using namespace std::chrono_literals;
  std::unique_lock<std::mutex> l(mu_);
  while (!closed_) {
    // Waits drive far more often; this only keeps a process that waits on nothing
    // answering its peers.
    closing_.wait_for(l, 1ms);
    if (closed_) break;
    for (int i = 0; i < 64 && round(); ++i) {
    }
    settle_done();
  }
}

void Core::close() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (closed_) return;
    closed_ = true;
    shut();
  }
  closing_.notify_all();
  if (keeper_.joinable() && keeper_.get_id() != std::this_thread::get_id()) keeper_.join();
}

void Core::shut() {
  // Coroutine frames first (they wait on workloads' latches), then the workloads, then
  // the engines and the fabric; nothing runs a callback after this.
  for (auto& p : pending_) {
    p->abandoned = true;
    p->settle(*this);
  }
  pending_.clear();
  workloads_.clear();
  cluster_.reset();
  node_.reset();
}

bool Core::drive(const std::function<bool()>& done, std::chrono::duration<double> budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (;;) {
    bool idle = false;
    {
      auto l = lock();
      // A slice of rounds per turn of the lock: long enough to be cheap, short enough
      // that other threads' calls get in.
      for (int i = 0; i < 256 && !done() && !idle; ++i) idle = !round();
      settle_done();
      if (done()) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // Real time with nothing to do: let the peers and the provider's thread move.
    if (idle) std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
}

void Core::settle_done() {
  std::erase_if(pending_, [this](const std::shared_ptr<Pending>& p) {
    if (!p->done()) return false;
    p->settle(*this);
    return true;
  });
}

const Registration* Core::acquire(size_t rank, void* addr, uint64_t bytes, std::optional<MemoryKind> kind) {
  const Registration* reg = take(engine(rank).register_memory(addr, bytes, kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead, kind));
  registered_[rank][reg->addr()].push_back({reinterpret_cast<uint64_t>(addr), bytes});
  return reg;
}

VoidResult Core::release(const Hold& hold) {
  for (auto it = registered_[hold.rank].begin(); it != registered_[hold.rank].end(); ++it) {
    auto& ranges = it->second;
    auto range = std::find_if(ranges.begin(), ranges.end(), [&](const RegisteredRange& r) {
      return r.addr == hold.addr && r.bytes == hold.bytes;
    });
    if (range == ranges.end()) continue;
    if (ranges.size() == 1) {
      if (auto r = engine(hold.rank).deregister_memory(reinterpret_cast<void*>(it->first)); !r.ok()) return r;
      registered_[hold.rank].erase(it);
    } else {
      ranges.erase(range);
    }
    return {};
  }
  return make_error(ErrorCode::kNotFound, "memory is not registered");
}

bool Core::holds(size_t rank, uint64_t addr, uint64_t bytes) const {
  if (rank >= registered_.size()) return false;
  for (const auto& [start, ranges] : registered_[rank]) {
    for (const RegisteredRange& r : ranges) {
      if (addr >= r.addr && bytes <= r.bytes && addr - r.addr <= r.bytes - bytes) return true;
    }
  }
  return false;
}

RemoteRegion Core::import(size_t to, size_t from, const std::vector<uint8_t>& descriptor) {
  auto key = std::make_tuple(to, from, descriptor);
  if (auto it = imports_.find(key); it != imports_.end()) return it->second;
  RemoteRegion region = take(engine(to).import_region(rank_name(from), descriptor));
  imports_.emplace(std::move(key), region);
  return region;
}

size_t rank_of(const Core& core, const std::string& peer) {
  const std::string prefix = "rank";
  if (peer.rfind(prefix, 0) == 0 && peer.size() > prefix.size() && peer.size() < prefix.size() + 10) {
    size_t rank = 0;
    bool digits = true;
    for (size_t i = prefix.size(); i < peer.size(); ++i) {
      if (peer[i] < '0' || peer[i] > '9') digits = false;
      rank = rank * 10 + static_cast<size_t>(peer[i] - '0');
    }
    if (digits && rank < core.size() && rank_name(rank) == peer) return rank;
  }
  fail(ErrorCode::kNotFound, "no peer '" + peer + "' in this cluster (peers are rank0 .. rank" +
                                 std::to_string(core.size() - 1) + ")");
}

}  // namespace ferry::python
