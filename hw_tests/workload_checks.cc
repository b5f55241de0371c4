#include "hw_tests/workload_checks.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "hw_tests/lane.h"
#include "transport/engine/engine.h"
#include "transport/engine/task.h"
#include "transport/engine/tcp_exchange.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/communicator.h"
#include "transport/workloads/coll/testing/exact_inputs.h"
#include "transport/workloads/group.h"
#include "transport/workloads/kv/kv_receiver.h"
#include "transport/workloads/kv/kv_sender.h"
#include "transport/workloads/moe/expert_parallel.h"
#include "transport/workloads/moe/testing/reference.h"

namespace ferry::qualify {
namespace {

const std::vector<std::string> kRanks = {"rank0", "rank1"};

class WorkloadPeer {
 public:
  WorkloadPeer(Provider& provider, PeerLink& link, uint32_t rank, const WorkloadOptions& options)
      : provider_(provider), link_(link), rank_(rank), options_(options) {}

  std::vector<WorkloadResult> run() {
    const std::string opened = setup();
    if (!link_error_.empty() || !opened.empty()) {
      return {WorkloadResult{"setup", !link_error_.empty() ? link_error_ : opened, ""}};
    }
    kv_migration();
    if (link_error_.empty()) all_reduce(coll::DType::kFloat32, 1 << 20, 3);
    if (link_error_.empty()) all_reduce(coll::DType::kBFloat16, 333'331, 4);
    if (link_error_.empty()) moe_dispatch_combine();
    if (!link_error_.empty()) results_.push_back(WorkloadResult{"link", link_error_, ""});
    return results_;
  }

 private:
  const std::string& peer() const { return kRanks[1 - rank_]; }

  void keep_moving() {
    if (engine_) engine_->progress();
  }

  std::optional<std::vector<uint8_t>> swap(const std::string& kind, const std::vector<uint8_t>& mine) {
    if (!link_error_.empty()) return std::nullopt;
    if (auto sent = link_.send(kind, mine); !sent.ok()) {
      link_error_ = "sending '" + kind + "': " + sent.error().to_string();
      return std::nullopt;
    }
    auto got = link_.expect(kind, 2 * options_.timeout_ns, [this] { keep_moving(); });
    if (!got.ok()) {
      link_error_ = got.error().to_string();
      return std::nullopt;
    }
    return std::move(got).value();
  }

  // Both ranks' verdicts on a workload, as one outcome.
  void conclude(const std::string& name, const std::string& mine, const std::string& detail) {
    auto theirs = swap("verdict", WireWriter().text(mine).data());
    if (!theirs) return;
    WireReader r(*theirs);
    const std::string other = r.text();
    std::string failure;
    for (uint32_t k = 0; k < 2; ++k) {
      const std::string& v = k == rank_ ? mine : other;
      if (!v.empty()) failure += (failure.empty() ? "" : "; ") + kRanks[k] + ": " + v;
    }
    results_.push_back(WorkloadResult{name, failure, detail});
  }

  std::string setup() {
    std::string why;
    auto exchange = TcpExchange::listen(kRanks[rank_], link_.local_host(), 0);
    if (exchange.ok()) {
      exchange_ = std::move(exchange).value();
    } else {
      why = exchange.error().to_string();
    }
    auto got = swap("exchange", WireWriter().text(why).u64(exchange_ ? exchange_->port() : 0).data());
    if (!got) return link_error_;
    WireReader r(*got);
    const std::string their_why = r.text();
    const uint64_t port = r.u64();
    if (!why.empty()) return "exchange: " + why;
    if (!their_why.empty()) return "the peer's exchange: " + their_why;
    if (auto added = exchange_->add_peer(peer(), host_port(link_.peer_host(), port)); !added.ok()) {
      return added.error().to_string();
    }
    EngineConfig config;
    config.transfer_timeout_ns = options_.timeout_ns;
    engine_ = std::make_unique<Engine>(kRanks[rank_], provider_, *exchange_, config);
    if (auto ok = engine_->open(); !ok.ok()) return "engine: " + ok.error().to_string();
    if (auto ok = engine_->add_peer(peer()); !ok.ok()) return ok.error().to_string();
    group_ = std::make_unique<Group>(*engine_, rank_, kRanks);
    return "";
  }

  // A buffer of `bytes` on both ranks, registered, the peer's imported.
  std::string symmetric(std::vector<uint8_t>& storage, uint64_t bytes, SymmetricRegion* out) {
    storage.assign(bytes, 0);
    std::vector<uint8_t> descriptor;
    std::string why;
    auto reg = engine_->register_memory(storage.data(), bytes);
    if (reg.ok()) {
      descriptor = (*reg)->descriptor().serialize();
    } else {
      why = reg.error().to_string();
    }
    auto got = swap("region", WireWriter().text(why).bytes(descriptor).data());
    if (!got) return link_error_;
    WireReader r(*got);
    const std::string their_why = r.text();
    const std::vector<uint8_t> theirs = r.bytes();
    if (!why.empty()) return "register: " + why;
    if (!their_why.empty()) return "the peer's register: " + their_why;
    auto region = engine_->import_region(peer(), theirs);
    if (!region.ok()) return "import: " + region.error().to_string();
    out->local = storage.data();
    out->bytes = bytes;
    out->remote.assign(2, RemoteRegion{});
    out->remote[1 - rank_] = *region;
    return "";
  }

  // Drives the engine until the task is done; an unfinished task is kept alive (a late
  // callback must not resume a destroyed coroutine).
  template <typename T>
  bool finish(Task<T>& task) {
    task.start();
    const uint64_t deadline = provider_.clock().now_ns() + options_.timeout_ns + 1'000'000'000ull;
    while (!task.done() && provider_.clock().now_ns() < deadline) keep_moving();
    return task.done();
  }

  // Rank 0 prefills a request's KV blocks and streams them layer by layer to rank 1's
  // pool, into other block numbers; rank 1 checks every byte of its pool.
  void kv_migration() {
    const PagedKvLayout layout{.layers = 4, .block_tokens = 16, .kv_heads = 8, .head_dim = 64, .dtype_bytes = 2,
                               .num_blocks = 32, .tp = 1};
    const KvRequest request{1, {5, 17, 2, 30, 11, 8, 23, 0, 14, 27}, {12, 3, 29, 7, 19, 26, 1, 14, 31, 0}};
    constexpr uint64_t kSeed = 21;
    const bool prefill = rank_ == 0;
    std::vector<uint8_t> pool(layout.pool_bytes());
    for (uint64_t i = 0; i < pool.size(); ++i) pool[i] = prefill ? pattern(kSeed, i) : kCanary;
    std::string mine;
    std::vector<uint8_t> descriptor;
    if (auto reg = engine_->register_memory(pool.data(), pool.size()); reg.ok()) {
      descriptor = (*reg)->descriptor().serialize();
    } else {
      mine = "register: " + reg.error().to_string();
    }
    auto got = swap("kv-pool", WireWriter().text(mine).bytes(descriptor).data());
    if (!got) return;
    WireReader r(*got);
    const std::string their_why = r.text();
    const std::vector<uint8_t> theirs = r.bytes();
    if (mine.empty() && !their_why.empty()) mine = "the peer could not register its pool";
    std::unique_ptr<KvSender> sender;
    std::unique_ptr<KvReceiver> receiver;
    if (mine.empty() && prefill) {
      auto region = engine_->import_region(peer(), theirs);
      if (!region.ok()) {
        mine = "import: " + region.error().to_string();
      } else {
        auto s = KvSender::create(*engine_, KvSenderConfig{layout, 0, pool.data(), layout, {KvDecodeRank{peer(), *region, 0}}});
        if (s.ok()) {
          sender = std::move(s).value();
        } else {
          mine = s.error().to_string();
        }
      }
    } else if (mine.empty()) {
      auto rc = KvReceiver::create(*engine_, KvReceiverConfig{layout, layout, 0, {peer()}});
      if (rc.ok()) {
        receiver = std::move(rc).value();
        if (auto ok = receiver->begin(request); !ok.ok()) mine = ok.error().to_string();
      } else {
        mine = rc.error().to_string();
      }
    }
    // The decode side begins first (docs/kv-migration.md).
    got = swap("kv-begun", WireWriter().text(mine).data());
    if (!got) return;
    WireReader begun(*got);
    if (mine.empty() && !begun.text().empty()) mine = "the peer could not begin";
    uint64_t bytes = 0;
    if (mine.empty() && prefill) {
      if (auto ok = sender->begin(request); !ok.ok()) mine = ok.error().to_string();
      for (uint32_t l = 0; l < layout.layers && mine.empty(); ++l) {
        if (auto ok = sender->layer_ready(request.id, l); !ok.ok()) mine = ok.error().to_string();
      }
      if (mine.empty()) {
        stranded_send_.push_back(sender->finished(request.id));
        Task<KvSendReport>& done = stranded_send_.back();
        if (!finish(done)) {
          mine = "the migration did not end";
        } else {
          const KvSendReport& report = done.result();
          bytes = report.bytes;
          if (!report.result.ok()) mine = report.result.error().message;
        }
      }
    } else if (mine.empty()) {
      stranded_receive_.push_back(receiver->finished(request.id));
      Task<KvReceiveReport>& done = stranded_receive_.back();
      if (!finish(done)) {
        mine = "the migration did not end here";
      } else if (!done.result().result.ok()) {
        mine = done.result().result.error().message;
      } else if (!done.result().blocks_reusable) {
        mine = "the blocks were not reported reusable";
      }
      // Every byte of the pool: the request's blocks hold the prefill blocks they map
      // from, layer by layer, K and V; every other block still holds its canary.
      std::vector<uint8_t> expected(pool.size(), kCanary);
      for (size_t i = 0; i < request.decode_blocks.size(); ++i) {
        for (uint32_t l = 0; l < layout.layers; ++l) {
          for (KvPart part : {KvPart::kKey, KvPart::kValue}) {
            const uint64_t to = layout.offset(l, part, request.decode_blocks[i]);
            const uint64_t from = layout.offset(l, part, request.prefill_blocks[i]);
            for (uint64_t b = 0; b < layout.block_bytes(); ++b) expected[to + b] = pattern(kSeed, from + b);
          }
        }
      }
      for (uint64_t i = 0; i < pool.size() && mine.empty(); ++i) {
        if (pool[i] != expected[i]) mine = "pool byte " + std::to_string(i) + " is wrong";
      }
      bytes = uint64_t{layout.layers} * kKvParts * request.decode_blocks.size() * layout.block_bytes();
    }
    // The other rank may still use the pool until both have concluded.
    conclude("kv-migration", mine,
             std::to_string(request.decode_blocks.size()) + " blocks x " + std::to_string(layout.layers) +
                 " layers, K and V: " + std::to_string(bytes) + " bytes into a " + std::to_string(pool.size()) +
                 "-byte pool, every byte checked");
    // Leave the pool registered: the engine may still hold it for a late piece; it is
    // unregistered with the engine at the end.
    kv_pools_.push_back(std::move(pool));
    if (sender) kv_senders_.push_back(std::move(sender));
    if (receiver) kv_receivers_.push_back(std::move(receiver));
  }

  void all_reduce(coll::DType dtype, size_t count, uint64_t seed) {
    const std::string name = std::string("all-reduce/") + coll::to_string(dtype);
    auto scratch_storage = std::make_unique<std::vector<uint8_t>>();
    SymmetricRegion scratch;
    std::string mine = symmetric(*scratch_storage, 8 << 20, &scratch);
    if (!link_error_.empty()) return;
    auto data = std::make_unique<std::vector<uint8_t>>(count * coll::element_bytes(dtype));
    coll::testing::fill_exact(data->data(), count, dtype, rank_, 2, seed);
    if (mine.empty()) {
      comms_.push_back(std::make_unique<coll::Communicator>(*group_, scratch));
      stranded_coll_.push_back(coll::all_reduce(*comms_.back(), data->data(), count, dtype, coll::ReduceOp::kSum));
      Task<TransferResult>& task = stranded_coll_.back();
      if (!finish(task)) {
        mine = "the all-reduce did not end";
      } else if (!task.result().ok()) {
        mine = task.result().error().message;
      } else {
        const size_t wrong = coll::testing::count_wrong(data->data(), count, dtype, [&](size_t i) {
          return coll::testing::exact_reduction(i, 2, coll::ReduceOp::kSum, seed);
        });
        if (wrong > 0) mine = std::to_string(wrong) + " of " + std::to_string(count) + " elements wrong";
      }
    }
    conclude(name, mine, std::to_string(count) + " elements summed over 2 ranks, every element checked");
    buffers_.push_back(std::move(scratch_storage));
    buffers_.push_back(std::move(data));
  }

  // Dispatch each rank's tokens to the ranks of their top-2 experts, run stand-in
  // experts, combine back: checked against the reference computed from both ranks'
  // inputs (which each rank rebuilds from the seed).
  void moe_dispatch_combine() {
    const moe::MoeConfig config{.experts = 8, .top_k = 2, .hidden = 2048, .element_bytes = 2, .max_tokens = 64,
                           .mode = moe::MoeMode::kNormal};
    const std::string name = "moe-dispatch-combine";
    auto geometry = moe::MoeGeometry::make(config, 2);
    auto region_bytes = moe::ExpertParallel::region_bytes(config, 2);
    if (!geometry.ok() || !region_bytes.ok()) {
      return conclude(name, !geometry.ok() ? geometry.error().to_string() : region_bytes.error().to_string(), "");
    }
    auto region_storage = std::make_unique<std::vector<uint8_t>>();
    SymmetricRegion region;
    std::string mine = symmetric(*region_storage, *region_bytes, &region);
    if (!link_error_.empty()) return;
    constexpr uint32_t kTokens = 48;
    std::vector<moe::testing::RankInputs> inputs;
    for (uint32_t r = 0; r < 2; ++r) inputs.push_back(moe::testing::make_inputs(*geometry, moe::testing::Routing::kUniform, r, kTokens, 5));
    const moe::testing::Reference reference(*geometry, inputs);
    std::unique_ptr<moe::ExpertParallel> ep;
    if (mine.empty()) {
      auto created = moe::ExpertParallel::create(*group_, config, region);
      if (created.ok()) {
        ep = std::move(created).value();
      } else {
        mine = created.error().to_string();
      }
    }
    uint64_t rows = 0;
    if (mine.empty()) {
      const moe::testing::RankInputs& in = inputs[rank_];
      stranded_moe_.push_back(ep->dispatch(std::span<const int32_t>(in.topk), std::span<const float>(in.weights),
                                                std::span<const uint8_t>(in.hidden)));
      if (!finish(stranded_moe_.back())) {
        mine = "dispatch did not end";
      } else if (!stranded_moe_.back().result().ok()) {
        mine = "dispatch: " + stranded_moe_.back().result().error().to_string();
      } else {
        mine = reference.check_dispatch(rank_, ep->received());
      }
      rows = ep->received().rows();
      auto outputs = std::make_unique<std::vector<uint16_t>>();
      auto combined = std::make_unique<std::vector<uint16_t>>(uint64_t{kTokens} * config.hidden);
      if (mine.empty()) {
        reference.run_experts(rank_, ep->received(), outputs.get());
        stranded_moe_.push_back(ep->combine(*outputs, *combined));
        if (!finish(stranded_moe_.back())) {
          mine = "combine did not end";
        } else if (!stranded_moe_.back().result().ok()) {
          mine = "combine: " + stranded_moe_.back().result().error().to_string();
        } else {
          mine = reference.check_combine(rank_, *combined);
        }
      }
      moe_outputs_.push_back(std::move(outputs));
      moe_outputs_.push_back(std::move(combined));
    }
    conclude(name, mine,
             std::to_string(kTokens) + " tokens per rank, top-2 of 8 experts, hidden 2048 bf16; " +
                 std::to_string(rows) + " rows received here; dispatch and combine checked bit for bit");
    buffers_.push_back(std::move(region_storage));
    experts_.push_back(std::move(ep));
    moe_inputs_.push_back(std::move(inputs));
  }

  Provider& provider_;
  PeerLink& link_;
  uint32_t rank_;
  WorkloadOptions options_;
  std::string link_error_;
  std::vector<WorkloadResult> results_;
  // Memory first, so that it outlives the engine and the workloads that use it.
  std::vector<std::vector<uint8_t>> kv_pools_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> buffers_;
  std::vector<std::unique_ptr<std::vector<uint16_t>>> moe_outputs_;
  std::vector<std::vector<moe::testing::RankInputs>> moe_inputs_;
  std::unique_ptr<TcpExchange> exchange_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Group> group_;
  std::vector<std::unique_ptr<KvSender>> kv_senders_;
  std::vector<std::unique_ptr<KvReceiver>> kv_receivers_;
  std::vector<std::unique_ptr<coll::Communicator>> comms_;
  std::vector<std::unique_ptr<moe::ExpertParallel>> experts_;
  std::vector<Task<KvSendReport>> stranded_send_;
  std::vector<Task<KvReceiveReport>> stranded_receive_;
  std::vector<Task<TransferResult>> stranded_coll_;
  std::vector<Task<VoidResult>> stranded_moe_;
};

}  // namespace

std::vector<WorkloadResult> run_workloads(Provider& provider, PeerLink& link, uint32_t rank,
                                          const WorkloadOptions& options) {
  return WorkloadPeer(provider, link, rank, options).run();
}

}  // namespace ferry::qualify
