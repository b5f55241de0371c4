// A prefill group and one or more decode groups over one fabric, with a KvSender on
// every prefill rank (one per decode group) and a KvReceiver on every decode rank, and
// KV contents in which every element names itself, so that every element a decode rank
// holds can be checked against what it must be.
//
// Nodes: prefill ranks 0 .. P-1, then decode group g's ranks P + g*D .. P + g*D + D-1.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transport/engine/task.h"
#include "transport/engine/testing/world.h"
#include "transport/workloads/kv/kv_receiver.h"
#include "transport/workloads/kv/kv_sender.h"
#include "transport/workloads/kv/testing/kv_contents.h"
#include "transport/workloads/testing/symmetric.h"

namespace ferry::testing {

struct KvClusterOptions {
  PagedKvLayout prefill;
  PagedKvLayout decode;
  uint32_t decode_groups = 1;
  std::string provider = fabrics::kEmu;
  EndpointKind kind = EndpointKind::kRc;
  uint64_t seed = 1;
  double link_gbps = 100;
  EngineConfig engine;
  MemoryKind memory = MemoryKind::kHost;  // where the pools live
};

// Prefill TP -> decode TP over small_model() pools of different sizes on the two sides.
inline KvClusterOptions kv_options(uint32_t prefill_tp, uint32_t decode_tp, std::string mode, EndpointKind kind) {
  KvClusterOptions o;
  o.prefill = small_model(prefill_tp, 24);
  o.decode = small_model(decode_tp, 32);
  o.provider = mode;
  o.kind = kind;
  return o;
}

// A request of `count` blocks, from position `first` of a fixed permutation of each
// side's pool: tables differ between the sides, and slices that do not overlap give
// disjoint blocks.
inline KvRequest kv_request(const KvClusterOptions& o, uint64_t id, size_t first, size_t count) {
  return KvRequest{id, slice(shuffled_blocks(o.prefill, 11), first, count),
                   slice(shuffled_blocks(o.decode, 22), first, count)};
}

inline WorldOptions world_options(const KvClusterOptions& o) {
  WorldOptions w;
  w.provider = o.provider;
  w.kind = o.kind;
  w.seed = o.seed;
  w.ranks = o.prefill.tp + o.decode_groups * o.decode.tp;
  w.rail_gbps = {o.link_gbps};
  w.engine = o.engine;
  return w;
}

// The finished() of every rank of one request, started.
struct KvRequestTasks {
  std::vector<Task<KvSendReport>> senders;      // by prefill rank
  std::vector<Task<KvReceiveReport>> receivers;  // by decode rank
  bool done() const {
    return std::all_of(senders.begin(), senders.end(), [](const auto& t) { return t.done(); }) &&
           std::all_of(receivers.begin(), receivers.end(), [](const auto& t) { return t.done(); });
  }
};

// Every rank of the request reports it completed, and the decode side may reuse its blocks.
inline void expect_completed(KvRequestTasks& tasks) {
  for (auto& t : tasks.senders) {
    const KvSendReport& r = t.result();
    EXPECT_TRUE(r.result.ok()) << r.result.error().message;
    EXPECT_FALSE(r.cancelled);
  }
  for (auto& t : tasks.receivers) {
    const KvReceiveReport& r = t.result();
    EXPECT_TRUE(r.result.ok()) << r.result.error().message;
    EXPECT_TRUE(r.blocks_reusable);
  }
}

class KvCluster {
 public:
  explicit KvCluster(const KvClusterOptions& o)
      : options_(o),
        cluster_(make_fabric(world_options(o)), engine_config(world_options(o))),
        pools_(cluster_, std::max(o.prefill.pool_bytes(), o.decode.pool_bytes()), o.memory) {
    EXPECT_TRUE(cluster_.opened().ok()) << cluster_.opened().error().to_string();
    EXPECT_EQ(o.prefill.dtype_bytes, 4u) << "kv_element() fills 4-byte elements";
    std::vector<std::string> prefill_names;
    for (uint32_t p = 0; p < o.prefill.tp; ++p) prefill_names.push_back(rank_name(p));
    for (uint32_t g = 0; g < o.decode_groups; ++g) {
      for (uint32_t p = 0; p < o.prefill.tp; ++p) {
        std::vector<KvDecodeRank> decode_ranks;
        for (uint32_t d = 0; d < o.decode.tp; ++d) {
          decode_ranks.push_back({rank_name(decode_node(d, g)), pools_.view(p).remote[decode_node(d, g)], 0});
        }
        auto sender = KvSender::create(cluster_.engine(p), {o.prefill, p, pools_.view(p).local, o.decode, decode_ranks});
        EXPECT_TRUE(sender.ok()) << sender.error().to_string();
        senders_.push_back(std::move(sender).value());
      }
      for (uint32_t d = 0; d < o.decode.tp; ++d) {
        auto receiver = KvReceiver::create(cluster_.engine(decode_node(d, g)), {o.prefill, o.decode, d, prefill_names});
        EXPECT_TRUE(receiver.ok()) << receiver.error().to_string();
        receivers_.push_back(std::move(receiver).value());
      }
    }
  }

  EngineCluster& cluster() { return cluster_; }
  Cluster& fabric() { return cluster_.fabric(); }
  const KvClusterOptions& options() const { return options_; }
  size_t decode_node(uint32_t d, uint32_t group = 0) const { return options_.prefill.tp + group * options_.decode.tp + d; }
  KvSender& sender(uint32_t p, uint32_t group = 0) { return *senders_.at(group * options_.prefill.tp + p); }
  KvReceiver& receiver(uint32_t d, uint32_t group = 0) { return *receivers_.at(group * options_.decode.tp + d); }
  // Host copies of the pools (host or GPU memory alike).
  std::vector<uint8_t> prefill_pool(uint32_t p) { return pools_.read(p, 0, options_.prefill.pool_bytes()); }
  std::vector<uint8_t> decode_pool(uint32_t d, uint32_t group = 0) {
    return pools_.read(decode_node(d, group), 0, options_.decode.pool_bytes());
  }

  // The decode side begins first (it owns the blocks), then every prefill rank.
  ::testing::AssertionResult begin(const KvRequest& request, uint32_t group = 0, KvTagSlot slot = std::nullopt) {
    for (uint32_t d = 0; d < options_.decode.tp; ++d) {
      if (auto r = receiver(d, group).begin(request, slot); !r.ok()) return failed("decode rank", d, r);
    }
    for (uint32_t p = 0; p < options_.prefill.tp; ++p) {
      if (auto r = sender(p, group).begin(request, slot); !r.ok()) return failed("prefill rank", p, r);
    }
    return ::testing::AssertionSuccess();
  }

  // Every prefill rank's compute finished `layer`.
  ::testing::AssertionResult layer_ready(uint64_t id, uint32_t layer, uint32_t group = 0) {
    for (uint32_t p = 0; p < options_.prefill.tp; ++p) {
      if (auto r = sender(p, group).layer_ready(id, layer); !r.ok()) return failed("prefill rank", p, r);
    }
    return ::testing::AssertionSuccess();
  }

  KvRequestTasks watch(uint64_t id, uint32_t group = 0) {
    KvRequestTasks tasks;
    for (uint32_t p = 0; p < options_.prefill.tp; ++p) tasks.senders.push_back(sender(p, group).finished(id));
    for (uint32_t d = 0; d < options_.decode.tp; ++d) tasks.receivers.push_back(receiver(d, group).finished(id));
    for (auto& t : tasks.senders) t.start();
    for (auto& t : tasks.receivers) t.start();
    return tasks;
  }

  // Writes `content` into the request's blocks of every prefill rank.
  void fill(const KvRequest& request, uint32_t content) {
    const PagedKvLayout& l = options_.prefill;
    for (uint32_t p = 0; p < l.tp; ++p) {
      std::vector<uint8_t> pool = prefill_pool(p);
      for_each_kv_element(l, request.prefill_blocks, p, [&](uint64_t offset, uint32_t value_without_content) {
        const uint32_t value = content << 28 | value_without_content;
        std::memcpy(pool.data() + offset, &value, 4);
      });
      pools_.write(p, 0, pool);
    }
  }

  // Every element of the request's blocks on every decode rank of `group` (or only on
  // `only_rank`) is `content`'s.
  ::testing::AssertionResult holds(const KvRequest& request, uint32_t content, uint32_t group = 0,
                                   std::optional<uint32_t> only_rank = std::nullopt) {
    const PagedKvLayout& l = options_.decode;
    for (uint32_t d = 0; d < l.tp; ++d) {
      if (only_rank && d != *only_rank) continue;
      ::testing::AssertionResult result = ::testing::AssertionSuccess();
      const std::vector<uint8_t> pool = decode_pool(d, group);
      for_each_kv_element(l, request.decode_blocks, d, [&](uint64_t offset, uint32_t value_without_content) {
        uint32_t have = 0;
        std::memcpy(&have, pool.data() + offset, 4);
        const uint32_t want = content << 28 | value_without_content;
        if (have != want && result) {
          result = ::testing::AssertionFailure()
                   << "request " << request.id << ", decode rank " << d << " pool offset " << offset << " holds "
                   << describe_kv_element(have) << ", expected " << describe_kv_element(want);
        }
      });
      if (!result) return result;
    }
    return ::testing::AssertionSuccess();
  }

  // A copy of a decode group's pools, to check later what changed.
  std::vector<std::vector<uint8_t>> snapshot(uint32_t group = 0) {
    std::vector<std::vector<uint8_t>> copy;
    for (uint32_t d = 0; d < options_.decode.tp; ++d) copy.push_back(decode_pool(d, group));
    return copy;
  }

  // Blocks outside `touched` are as in `before`, on every decode rank of the group.
  ::testing::AssertionResult unchanged_except(const std::vector<std::vector<uint8_t>>& before,
                                              const KvBlockTable& touched, uint32_t group = 0) {
    const PagedKvLayout& l = options_.decode;
    for (uint32_t d = 0; d < l.tp; ++d) {
      const std::vector<uint8_t> pool = decode_pool(d, group);
      for (uint32_t block = 0; block < l.num_blocks; ++block) {
        if (std::find(touched.begin(), touched.end(), block) != touched.end()) continue;
        for (uint32_t layer = 0; layer < l.layers; ++layer) {
          for (uint32_t part = 0; part < kKvParts; ++part) {
            const uint64_t offset = l.offset(layer, static_cast<KvPart>(part), block);
            if (std::memcmp(pool.data() + offset, before[d].data() + offset, l.block_bytes()) != 0) {
              return ::testing::AssertionFailure() << "decode rank " << d << " block " << block << " layer " << layer
                                                   << " part " << part << " changed";
            }
          }
        }
      }
    }
    return ::testing::AssertionSuccess();
  }

  bool run_until(const std::function<bool()>& done) { return cluster_.run_until(done); }

  // Runs until no engine has anything in flight, then a while longer: whatever could
  // still land has landed.
  bool run_to_quiescence() {
    const bool quiet = cluster_.run_until([&] {
      for (size_t r = 0; r < cluster_.size(); ++r) {
        if (cluster_.engine(r).transfers_in_flight() != 0) return false;
      }
      return true;
    });
    for (int i = 0; i < 2000; ++i) cluster_.round();
    return quiet;
  }

 private:
  static ::testing::AssertionResult failed(const char* side, uint32_t rank, const VoidResult& r) {
    return ::testing::AssertionFailure() << side << " " << rank << ": " << r.error().to_string();
  }

  KvClusterOptions options_;
  EngineCluster cluster_;
  SymmetricAllocation pools_;
  std::vector<std::unique_ptr<KvSender>> senders_;      // by group, then prefill rank
  std::vector<std::unique_ptr<KvReceiver>> receivers_;  // by group, then decode rank
};

}  // namespace ferry::testing
