// The workloads, unchanged, on simulated hosts over lossy links: KV-cache migration
// (prefill TP 2 to decode TP 4, paged writes between different block tables),
// all-reduce (4 ranks) and MoE dispatch and combine (the all-to-all of expert
// parallelism, 4 ranks). On SRD every packet is sprayed and lost ones are resent
// selectively, so they land out of order; on RC go-back-N resends in order. Every byte
// is checked against a reference computed without the network, and the simulation's
// counters show that packets were lost and resent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sim/run_clock.h"
#include "sim/simulation.h"
#include "transport/engine/engine_cluster.h"
#include "transport/engine/task.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/testing/exact_inputs.h"
#include "transport/workloads/kv/kv_receiver.h"
#include "transport/workloads/kv/kv_sender.h"
#include "transport/workloads/kv/testing/kv_cluster.h"
#include "transport/workloads/moe/expert_parallel.h"
#include "transport/workloads/moe/testing/reference.h"
#include "transport/workloads/testing/symmetric.h"

namespace ferry::sim::testing {
namespace {

// Per MTU frame, on every access link, both directions: thousands of packets per test,
// so tens of them lost.
constexpr double kLoss = 1e-2;

SimulationConfig lossy_config(Transport transport, uint32_t hosts) {
  SimulationConfig config;
  config.transport = transport;
  config.hosts = hosts;
  config.access_link.loss = kLoss;
  return config;
}

// Short transport timers, so that a lost tail costs little virtual time.
EngineConfig engine_config() {
  EngineConfig engine;
  engine.endpoint.retry_timeout_ns = 200'000;
  engine.endpoint.rnr_timer_ns = 10'000;
  return engine;
}

// The cluster, its groups and a symmetric region; workloads built on them are destroyed
// first, then the engines, then the memory they registered.
class Workloads : public ::testing::TestWithParam<Transport> {
 protected:
  void start(uint32_t hosts, uint64_t region_bytes) {
    auto simulation = std::make_unique<Simulation>(lossy_config(GetParam(), hosts));
    sim_ = simulation.get();
    cluster_ = std::make_unique<EngineCluster>(std::move(simulation), engine_config());
    ASSERT_TRUE(cluster_->opened().ok()) << cluster_->opened().error().to_string();
    groups_ = ferry::testing::make_groups(*cluster_);
    region_ = std::make_unique<ferry::testing::SymmetricAllocation>(*cluster_, region_bytes);
    clock_ = std::make_unique<RunClock>(sim());
  }

  void TearDown() override {
    if (clock_ != nullptr) {
      const SimulationCounters counters = sim().counters();
      RecordProperty("simulated_ns", std::to_string(clock_->simulated_ns()));
      RecordProperty("wall_s", std::to_string(clock_->wall_s()));
      RecordProperty("packets_lost", std::to_string(counters.packets_lost));
      RecordProperty("retransmitted_packets", std::to_string(counters.retransmitted_packets));
    }
    release_workloads();
    groups_.clear();
    cluster_.reset();
    region_.reset();
  }

  // Drops what the test built on the engines.
  virtual void release_workloads() {}

  // The loss was real: packets were lost and the transport sent them again.
  void expect_losses_recovered() {
    const SimulationCounters counters = sim().counters();
    EXPECT_GT(counters.packets_lost, 10u);
    EXPECT_GT(counters.retransmitted_packets, 0u);
  }

  bool run_until(const std::function<bool()>& done) { return cluster_->run_until(done); }

  // The simulation the cluster owns: its counters are sim's own.
  Simulation& sim() { return *sim_; }

  Simulation* sim_ = nullptr;
  std::unique_ptr<EngineCluster> cluster_;
  std::vector<Group> groups_;
  std::unique_ptr<ferry::testing::SymmetricAllocation> region_;
  std::unique_ptr<RunClock> clock_;
};

std::string transport_name(const ::testing::TestParamInfo<Transport>& info) {
  return info.param == Transport::kRoceRc ? "Rc" : "Srd";
}

// ---------------------------------------------------------------------------------
// KV-cache migration: prefill ranks 0 and 1 (four of the eight heads each), decode ranks
// 2 to 5 (two heads each), 16 blocks of 16 tokens, four layers streamed one by one.

PagedKvLayout kv_layout(uint32_t tp, uint32_t num_blocks) {
  return PagedKvLayout{.layers = 4, .block_tokens = 16, .kv_heads = 8, .head_dim = 64,
                       .dtype_bytes = 4, .num_blocks = num_blocks, .tp = tp};
}

// Calls fn(pool offset, value) for every element of `table`'s blocks that `rank` of a
// side laid out as `l` holds; value is what ferry::testing::kv_element gives `content`
// there: every element names its request, layer, part, token, head and dimension.
template <typename Fn>
void for_each_kv_element(const PagedKvLayout& l, const KvBlockTable& table, uint32_t rank, uint32_t content, Fn fn) {
  const HeadRange heads = l.heads_of(rank);
  for (uint32_t layer = 0; layer < l.layers; ++layer) {
    for (uint32_t part = 0; part < kKvParts; ++part) {
      for (uint32_t i = 0; i < table.size(); ++i) {
        for (uint32_t t = 0; t < l.block_tokens; ++t) {
          for (uint32_t h = 0; h < heads.count; ++h) {
            for (uint32_t dim = 0; dim < l.head_dim; ++dim) {
              fn(l.offset(layer, static_cast<KvPart>(part), table[i], t, h, dim),
                 ferry::testing::kv_element(content, layer, part, i * l.block_tokens + t, heads.first + h, dim));
            }
          }
        }
      }
    }
  }
}

class KvOnSim : public Workloads {
 protected:
  void release_workloads() override {
    senders_.clear();
    receivers_.clear();
  }
  std::vector<std::unique_ptr<KvSender>> senders_;
  std::vector<std::unique_ptr<KvReceiver>> receivers_;
};

TEST_P(KvOnSim, EveryElementLandsWhereTheDecodeBlockTableSaysDespiteLoss) {
  constexpr uint32_t kPrefillTp = 2, kDecodeTp = 4, kBlocks = 16, kContent = 5;
  const PagedKvLayout prefill = kv_layout(kPrefillTp, 24), decode = kv_layout(kDecodeTp, 32);
  start(kPrefillTp + kDecodeTp, std::max(prefill.pool_bytes(), decode.pool_bytes()));
  const auto decode_node = [&](uint32_t d) { return kPrefillTp + d; };

  std::vector<std::string> prefill_names;
  for (uint32_t p = 0; p < kPrefillTp; ++p) prefill_names.push_back(rank_name(p));
  for (uint32_t p = 0; p < kPrefillTp; ++p) {
    std::vector<KvDecodeRank> decode_ranks;
    for (uint32_t d = 0; d < kDecodeTp; ++d) {
      decode_ranks.push_back({rank_name(decode_node(d)), region_->view(p).remote[decode_node(d)], 0});
    }
    auto sender = KvSender::create(cluster_->engine(p), {prefill, p, region_->bytes(p).data(), decode, decode_ranks});
    ASSERT_TRUE(sender.ok()) << sender.error().to_string();
    senders_.push_back(std::move(sender).value());
  }
  for (uint32_t d = 0; d < kDecodeTp; ++d) {
    auto receiver = KvReceiver::create(cluster_->engine(decode_node(d)), {prefill, decode, d, prefill_names});
    ASSERT_TRUE(receiver.ok()) << receiver.error().to_string();
    receivers_.push_back(std::move(receiver).value());
  }

  // Different tables on the two sides, from fixed permutations of each pool.
  const KvRequest request{1, ferry::testing::slice(ferry::testing::shuffled_blocks(prefill, 11), 0, kBlocks),
                          ferry::testing::slice(ferry::testing::shuffled_blocks(decode, 22), 0, kBlocks)};
  for (uint32_t p = 0; p < kPrefillTp; ++p) {
    for_each_kv_element(prefill, request.prefill_blocks, p, kContent, [&](uint64_t offset, uint32_t value) {
      std::memcpy(region_->bytes(p).data() + offset, &value, 4);
    });
  }
  // The decode pools as they must end: zero (untouched) except the request's elements.
  std::vector<std::vector<uint8_t>> expected(kDecodeTp, std::vector<uint8_t>(region_->bytes(0).size(), 0));
  for (uint32_t d = 0; d < kDecodeTp; ++d) {
    for_each_kv_element(decode, request.decode_blocks, d, kContent, [&](uint64_t offset, uint32_t value) {
      std::memcpy(expected[d].data() + offset, &value, 4);
    });
  }

  for (auto& receiver : receivers_) ASSERT_TRUE(receiver->begin(request).ok());
  for (auto& sender : senders_) ASSERT_TRUE(sender->begin(request).ok());
  std::vector<Task<KvSendReport>> sent;
  std::vector<Task<KvReceiveReport>> received;
  for (auto& sender : senders_) sent.push_back(sender->finished(request.id));
  for (auto& receiver : receivers_) received.push_back(receiver->finished(request.id));
  for (auto& t : sent) t.start();
  for (auto& t : received) t.start();
  // Layers one by one, some of each on the wire before the next is ready.
  for (uint32_t layer = 0; layer < prefill.layers; ++layer) {
    for (auto& sender : senders_) ASSERT_TRUE(sender->layer_ready(request.id, layer).ok());
    for (int i = 0; i < 50; ++i) cluster_->round();
  }
  ASSERT_TRUE(run_until([&] {
    for (auto& t : sent) if (!t.done()) return false;
    for (auto& t : received) if (!t.done()) return false;
    return true;
  }));

  uint64_t bytes = 0;
  for (auto& t : sent) {
    EXPECT_TRUE(t.result().result.ok()) << t.result().result.error().message;
    bytes += t.result().bytes;
  }
  for (auto& t : received) {
    EXPECT_TRUE(t.result().result.ok()) << t.result().result.error().message;
    EXPECT_TRUE(t.result().blocks_reusable);
  }
  EXPECT_EQ(bytes, uint64_t{prefill.layers} * kKvParts * kBlocks * prefill.block_tokens * prefill.kv_heads *
                       prefill.head_bytes());
  for (uint32_t d = 0; d < kDecodeTp; ++d) {
    EXPECT_TRUE(region_->bytes(decode_node(d)) == expected[d]) << "decode rank " << d;
  }
  expect_losses_recovered();
}

INSTANTIATE_TEST_SUITE_P(Transports, KvOnSim, ::testing::Values(Transport::kSrd, Transport::kRoceRc),
                         transport_name);

// ---------------------------------------------------------------------------------
// All-reduce over 4 ranks: fp32 sums of exact inputs (small integers, so every order of
// reduction gives the same bits), one call per algorithm, every element of every rank
// checked.

class AllReduceOnSim : public Workloads {
 protected:
  void release_workloads() override { comms_.clear(); }
  std::vector<std::unique_ptr<coll::Communicator>> comms_;
};

TEST_P(AllReduceOnSim, EveryRankGetsTheExactSumDespiteLoss) {
  constexpr uint32_t kRanks = 4;
  constexpr size_t kCount = 256 << 10;  // 1 MiB of fp32 per rank
  start(kRanks, 1 << 20);
  for (uint32_t r = 0; r < kRanks; ++r) comms_.push_back(std::make_unique<coll::Communicator>(groups_[r], region_->view(r)));
  uint64_t seed = 1;
  for (coll::Algorithm algorithm : {coll::Algorithm::kRing, coll::Algorithm::kOneShot, coll::Algorithm::kTwoShot}) {
    ++seed;
    std::vector<std::vector<float>> data(kRanks, std::vector<float>(kCount));
    std::vector<Task<TransferResult>> calls;
    for (uint32_t r = 0; r < kRanks; ++r) {
      coll::testing::fill_exact(data[r].data(), kCount, coll::DType::kFloat32, r, kRanks, seed);
      calls.push_back(coll::all_reduce(*comms_[r], data[r].data(), kCount, coll::DType::kFloat32,
                                       coll::ReduceOp::kSum, algorithm));
    }
    for (auto& call : calls) call.start();
    ASSERT_TRUE(run_until([&] {
      for (auto& call : calls) if (!call.done()) return false;
      return true;
    })) << coll::to_string(algorithm);
    for (uint32_t r = 0; r < kRanks; ++r) {
      EXPECT_TRUE(calls[r].result().ok()) << coll::to_string(algorithm) << ": " << calls[r].result().error().message;
      EXPECT_EQ(coll::testing::count_wrong(data[r].data(), kCount, coll::DType::kFloat32,
                                           [&](size_t i) {
                                             return coll::testing::exact_reduction(i, kRanks, coll::ReduceOp::kSum,
                                                                                   seed);
                                           }),
                0u)
          << coll::to_string(algorithm) << ", rank " << r;
    }
  }
  expect_losses_recovered();
}

INSTANTIATE_TEST_SUITE_P(Transports, AllReduceOnSim, ::testing::Values(Transport::kSrd, Transport::kRoceRc),
                         transport_name);

// ---------------------------------------------------------------------------------
// MoE dispatch and combine over 4 ranks, 16 experts, top 4, 4 KiB rows: every received
// row, count and origin checked against the local reference, and every combined token
// bit for bit.

moe::MoeConfig moe_config(uint32_t ranks) {
  moe::MoeConfig config;
  config.experts = 4 * ranks;
  config.top_k = 4;
  config.hidden = 2048;
  config.max_tokens = 64;
  config.mode = moe::MoeMode::kNormal;
  return config;
}

class MoeOnSim : public Workloads {
 protected:
  void release_workloads() override { ranks_.clear(); }
  std::vector<std::unique_ptr<moe::ExpertParallel>> ranks_;

  // Starts one task per rank and runs until all are done; "" or the first failure.
  std::string run_all(std::vector<Task<VoidResult>>& tasks) {
    for (auto& t : tasks) t.start();
    if (!run_until([&] {
          for (auto& t : tasks) if (!t.done()) return false;
          return true;
        })) {
      return "did not finish";
    }
    for (size_t r = 0; r < tasks.size(); ++r) {
      if (!tasks[r].result().ok()) return "rank " + std::to_string(r) + ": " + tasks[r].result().error().to_string();
    }
    return "";
  }
};

TEST_P(MoeOnSim, DispatchAndCombineMatchTheReferenceDespiteLoss) {
  constexpr uint32_t kRanks = 4, kTokens = 64;
  const moe::MoeConfig config = moe_config(kRanks);
  auto region_bytes = moe::ExpertParallel::region_bytes(config, kRanks);
  ASSERT_TRUE(region_bytes.ok()) << region_bytes.error().to_string();
  start(kRanks, *region_bytes);
  for (uint32_t r = 0; r < kRanks; ++r) {
    auto rank = moe::ExpertParallel::create(groups_[r], config, region_->view(r));
    ASSERT_TRUE(rank.ok()) << rank.error().to_string();
    ranks_.push_back(std::move(rank).value());
  }
  const moe::MoeGeometry& geometry = ranks_[0]->geometry();
  // Two calls in a row: buffers, tags and sequence numbers are reused.
  for (uint64_t seed : {1, 2}) {
    std::vector<moe::testing::RankInputs> inputs;
    for (uint32_t r = 0; r < kRanks; ++r) {
      inputs.push_back(moe::testing::make_inputs(geometry, moe::testing::Routing::kUniform, r, kTokens, seed));
    }
    const moe::testing::Reference reference(geometry, inputs);
    std::vector<Task<VoidResult>> dispatched;
    for (uint32_t r = 0; r < kRanks; ++r) {
      dispatched.push_back(ranks_[r]->dispatch(inputs[r].topk, inputs[r].weights, inputs[r].hidden));
    }
    ASSERT_EQ(run_all(dispatched), "") << "dispatch, seed " << seed;
    std::vector<std::vector<uint16_t>> outputs(kRanks);
    for (uint32_t r = 0; r < kRanks; ++r) {
      ASSERT_EQ(reference.check_dispatch(r, ranks_[r]->received()), "") << "rank " << r << ", seed " << seed;
      reference.run_experts(r, ranks_[r]->received(), &outputs[r]);
    }
    std::vector<std::vector<uint16_t>> combined(kRanks);
    std::vector<Task<VoidResult>> combining;
    for (uint32_t r = 0; r < kRanks; ++r) {
      combined[r].assign(uint64_t{inputs[r].tokens} * geometry.hidden(), 0);
      combining.push_back(ranks_[r]->combine(outputs[r], combined[r]));
    }
    ASSERT_EQ(run_all(combining), "") << "combine, seed " << seed;
    for (uint32_t r = 0; r < kRanks; ++r) {
      EXPECT_EQ(reference.check_combine(r, combined[r]), "") << "rank " << r << ", seed " << seed;
    }
  }
  expect_losses_recovered();
}

INSTANTIATE_TEST_SUITE_P(Transports, MoeOnSim, ::testing::Values(Transport::kSrd, Transport::kRoceRc),
                         transport_name);

}  // namespace
}  // namespace ferry::sim::testing
