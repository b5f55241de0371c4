#include "tools/ferry/swarm/seed_run.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>

#include "emu/fabric.h"
#include "transport/engine/engine_cluster.h"
#include "transport/engine/task.h"
#include "transport/engine/testing/world_options.h"
#include "transport/random.h"
#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/communicator.h"
#include "transport/workloads/coll/testing/exact_inputs.h"
#include "transport/workloads/kv/kv_receiver.h"
#include "transport/workloads/kv/kv_sender.h"
#include "transport/workloads/kv/testing/kv_contents.h"
#include "transport/workloads/pp/stage_receiver.h"
#include "transport/workloads/pp/stage_sender.h"
#include "transport/workloads/testing/symmetric.h"
#include "transport/workloads/weights/broadcast.h"

namespace ferry::swarm {
namespace {

using testing::pattern_byte;

// Slack on every bound: the cluster lets virtual time jump by up to an idle tick before
// an engine sees a deadline pass.
constexpr uint64_t kSlackNs = 5'000'000;
// A workload made of several transfers (a collective's steps, a migration's layers)
// may wait for one wait's deadline (peer_wait_timeout_ns: the peer still answers
// probes) and then settle its writes in flight, each with its own transfer deadline.
constexpr uint64_t kWorkloadWriteDeadlines = 3;

std::string fmt(const char* format, auto... args) {
  std::string out(static_cast<size_t>(std::snprintf(nullptr, 0, format, args...)), '\0');
  std::snprintf(out.data(), out.size() + 1, format, args...);
  return out;
}

emu::FabricConfig fabric_config(const SeedPlan& p) {
  emu::FabricConfig c;
  c.mode = emu::Mode::kDeterministic;
  c.seed = splitmix64(p.seed);
  c.nodes = p.cluster.ranks;
  c.nics.clear();
  for (double gbps : p.cluster.rail_gbps) {
    emu::NicConfig nic;
    nic.link_gbps = gbps;
    nic.loss_probability = p.cluster.loss;
    c.nics.push_back(nic);
  }
  c.propagation_delay_ns = p.cluster.propagation_delay_ns;
  c.srd_reorder_window_ns = p.cluster.srd_reorder_window_ns;
  return c;
}

EngineConfig engine_config(const SeedPlan& p) {
  testing::WorldOptions o;  // the tests' quick retry settings
  o.kind = p.cluster.kind;
  o.engine.transfer_timeout_ns = p.transfer_timeout_ns;
  o.engine.keepalive_interval_ns = p.keepalive_interval_ns;
  o.engine.peer_wait_timeout_ns = p.peer_wait_timeout_ns;
  o.engine.stripe_threshold_bytes = p.stripe_threshold_bytes;
  o.engine.piece_bytes = p.piece_bytes;
  return testing::engine_config(o);
}

class SeedRun {
 public:
  SeedRun(const SeedPlan& plan, SeedOutcome& out) : plan_(plan), out_(out) {}

  void run() {
    auto fabric = std::make_unique<emu::Fabric>(fabric_config(plan_));
    emu_ = fabric.get();
    cluster_ = std::make_unique<EngineCluster>(std::move(fabric), engine_config(plan_));
    if (VoidResult opened = cluster_->opened(); !opened.ok()) {
      violation("setup: " + opened.error().to_string());
      return;
    }
    // Bounded virtual time: every deadline has passed long before.
    cluster_->horizon_ns = plan_.last_fault_ns() + 20 * plan_.peer_wait_timeout_ns + 100'000'000;
    set_up_buffers();
    if (!out_.passed()) return;
    groups_ = testing::make_groups(*cluster_);
    schedule_faults();
    for (size_t i = 0; i < plan_.transfers.size(); ++i) schedule_transfer(i);
    if (plan_.collective.present) schedule_collective();
    if (plan_.kv.present) schedule_kv();
    if (plan_.broadcast.present) schedule_broadcast();
    if (plan_.pipeline.present) schedule_pipeline();

    const bool ended = cluster_->run_until([&] { return all_ended(); }, 3'000'000);
    if (!ended) {
      std::string open;
      for (const Operation& op : ops_) {
        if (op.calls == 0) open += " " + op.name + ";";
      }
      if (unstarted_) open += " " + std::to_string(unstarted_) + " never started;";
      violation(fmt("no hang: operations still open at %llu ns after %s:",
                    static_cast<unsigned long long>(emu_->now_ns()),
                    emu_->now_ns() > cluster_->horizon_ns ? "the virtual-time horizon" : "the round limit") +
                open);
    }
    // Let late copies land: a second callback or a wait woken twice would show.
    for (int i = 0; i < 300; ++i) cluster_->round();
    out_.trace_hash = emu_->trace_hash();
    for (const Operation& op : ops_) {
      out_.trace_hash = splitmix64(out_.trace_hash ^ (op.end_ns * 4 + op.ok * 2 + (op.calls > 0)));
    }
    out_.operations = ops_.size();
    tear_down();
  }

 private:
  struct Operation {
    std::string name;
    bool may_fail = false;
    // For an engine transfer between two ranks: may_fail is decided when it ends, from
    // the faults applied by then (cut_apart()).
    std::vector<uint32_t> pair;
    uint64_t start_ns = 0;
    uint64_t bound_ns = 0;  // must end by then
    int calls = 0;
    bool ok = false;
    uint64_t end_ns = 0;
  };

  void violation(std::string what) { out_.violations.push_back(std::move(what)); }

  // When a workload that started (or last saw a fault) at `from` must have ended.
  uint64_t workload_bound(uint64_t from) const {
    return from + plan_.peer_wait_timeout_ns + kWorkloadWriteDeadlines * plan_.transfer_timeout_ns + kSlackNs;
  }

  // A new operation; `ended` records its end and checks exactly-once, the bound and
  // whether it was allowed to fail. Returns its index.
  size_t begin_operation(std::string name, bool may_fail, uint64_t bound_ns) {
    ops_.push_back(Operation{std::move(name), may_fail, {}, emu_->now_ns(), bound_ns});
    return ops_.size() - 1;
  }
  // `cancelled`: the work says another rank cancelled it (a KV send that its decode rank
  // gave up on after a fault elsewhere in the request), a failure of its own kind.
  void ended(size_t index, const TransferResult& result, bool cancelled = false) {
    Operation& op = ops_[index];
    if (torn_down_) {
      violation("nothing after teardown: " + op.name + " called back after the cluster was torn down");
      return;
    }
    if (++op.calls > 1) {
      violation(fmt("exactly once: %s ended %d times", op.name.c_str(), op.calls));
      return;
    }
    op.ok = result.ok();
    op.end_ns = emu_->now_ns();
    out_.end_ns = std::max(out_.end_ns, op.end_ns);
    out_.events.push_back(fmt("%10llu ns  %s: %s", static_cast<unsigned long long>(op.end_ns), op.name.c_str(),
                              result.ok() ? "ok" : result.error().to_string().c_str()));
    if (!result.ok()) {
      ++out_.failed;
      const bool may_fail = op.pair.empty() ? op.may_fail : cut_apart(op.pair[0], op.pair[1]);
      if (!may_fail) violation("failure only where a fault struck: " + op.name + " failed: " + result.error().to_string());
      if (result.error().message.empty()) violation("errors say why: " + op.name + " failed without a message");
      // A fault shows as a peer out of reach or a deadline passed, or as a cancellation by
      // a rank that saw one, nothing else.
      const ErrorCode code = result.error().code;
      if (code != ErrorCode::kUnavailable && code != ErrorCode::kDeadlineExceeded &&
          !(cancelled && code == ErrorCode::kFailedPrecondition)) {
        violation("errors say why: " + op.name + " failed with " + result.error().to_string() +
                  ", neither unavailable nor deadline exceeded");
      }
    }
    if (op.end_ns > op.bound_ns) {
      violation(fmt("bounded: %s ended at %llu ns, after its bound %llu ns", op.name.c_str(),
                    static_cast<unsigned long long>(op.end_ns), static_cast<unsigned long long>(op.bound_ns)));
    }
  }
  // Every scheduled start has happened and every operation it began has ended.
  std::vector<uint32_t> all_ranks() const {
    std::vector<uint32_t> ranks(plan_.cluster.ranks);
    std::iota(ranks.begin(), ranks.end(), 0u);
    return ranks;
  }

  bool all_ended() const {
    return unstarted_ == 0 && std::all_of(ops_.begin(), ops_.end(), [](const Operation& op) { return op.calls > 0; });
  }

  // Every rank's buffer: its source area holds its pattern, its slots start zeroed.
  void set_up_buffers() {
    const uint32_t n = plan_.cluster.ranks;
    buffers_.assign(n, std::vector<uint8_t>(plan_.buffer_bytes, 0));
    regions_.assign(n, std::vector<RemoteRegion>(n));
    std::vector<std::vector<uint8_t>> descriptors;
    for (uint32_t r = 0; r < n; ++r) {
      for (uint64_t i = 0; i < plan_.source_bytes; ++i) buffers_[r][i] = pattern_byte(r, plan_.seed, i);
      auto reg = cluster_->engine(r).register_memory(buffers_[r].data(), buffers_[r].size());
      if (!reg.ok()) return violation("setup: " + reg.error().to_string());
      descriptors.push_back((*reg)->descriptor().serialize());
    }
    for (uint32_t a = 0; a < n; ++a) {
      for (uint32_t b = 0; b < n; ++b) {
        if (a == b) continue;
        auto region = cluster_->engine(a).import_region(rank_name(b), descriptors[b]);
        if (!region.ok()) return violation("setup: " + region.error().to_string());
        regions_[a][b] = *region;
      }
    }
  }

  // Whether the faults applied so far can have cut a and b apart: one of them lost, or
  // every rail between them struck on one side or the other (a dead NIC leaves the
  // node its other rails, for peers connected before and after alike).
  bool cut_apart(uint32_t a, uint32_t b) const {
    const uint32_t all = (1u << plan_.cluster.rail_gbps.size()) - 1;
    return cut_[a][b] || (struck_[a] | struck_[b]) == all;
  }

  // Tracks what each fault does to pairs of ranks, for cut_apart().
  void record_fault(const FaultDraw& f) {
    const uint32_t n = plan_.cluster.ranks;
    if (!f.disruptive()) return;
    struck_[f.node] |= 1u << f.nic;
    if (f.kind != FaultKind::kNodeLoss) return;
    for (uint32_t peer = 0; peer < n; ++peer) {
      if (peer != f.node) cut_[f.node][peer] = cut_[peer][f.node] = true;
    }
  }

  void schedule_faults() {
    struck_.assign(plan_.cluster.ranks, 0);
    cut_.assign(plan_.cluster.ranks, std::vector<bool>(plan_.cluster.ranks, false));
    for (const FaultDraw& f : plan_.faults) {
      emu_->at(f.at_ns, [this, f] {
        record_fault(f);
        switch (f.kind) {
          case FaultKind::kLossRate: emu_->set_loss_probability(f.node, f.nic, f.probability); break;
          case FaultKind::kSrdDuplicates: emu_->duplicate_srd(f.node, f.nic, f.count); break;
          case FaultKind::kLostAcks: emu_->lose_acks(f.node, f.nic, f.count); break;
          case FaultKind::kLinkFlap:
            emu_->set_link_up(f.node, f.nic, false);
            emu_->at(f.at_ns + f.duration_ns, [this, f] { emu_->set_link_up(f.node, f.nic, true); });
            break;
          case FaultKind::kNicDeath: emu_->kill_nic(f.node, f.nic); break;
          case FaultKind::kNodeLoss: emu_->vanish_node(f.node); break;
        }
      });
    }
  }

  // Whether dst's slot of transfer `t` holds exactly what the transfer carries; the
  // first wrong byte otherwise.
  std::optional<std::string> wrong_bytes(const TransferDraw& t) const {
    const std::vector<uint8_t>& dst = buffers_[t.dst];
    auto compare = [&](uint64_t dst_offset, uint64_t src_offset, uint64_t n) -> std::optional<std::string> {
      for (uint64_t i = 0; i < n; ++i) {
        const uint8_t want = pattern_byte(t.src, plan_.seed, src_offset + i);
        if (dst[dst_offset + i] != want) {
          return fmt("rank%u byte %llu is %d, expected %d (rank%u source byte %llu)", t.dst,
                     static_cast<unsigned long long>(dst_offset + i), dst[dst_offset + i], want, t.src,
                     static_cast<unsigned long long>(src_offset + i));
        }
      }
      return std::nullopt;
    };
    if (t.kind != TransferKind::kPaged) return compare(t.dst_offset, t.src_offset, t.bytes);
    for (size_t i = 0; i < t.src_pages.size(); ++i) {
      if (auto wrong = compare(t.dst_offset + t.dst_pages[i] * t.page_bytes, t.src_pages[i] * t.page_bytes, t.page_bytes)) {
        return wrong;
      }
    }
    return std::nullopt;
  }

  void schedule_transfer(size_t index) {
    const TransferDraw& t = plan_.transfers[index];
    ++unstarted_;
    emu_->at(t.at_ns, [this, index, &t] {
      --unstarted_;
      const uint64_t bound = emu_->now_ns() + plan_.transfer_timeout_ns + kSlackNs;
      // A wait lasts while its peer answers probes; a dead peer ends it much sooner.
      const uint64_t wait_bound = emu_->now_ns() + plan_.peer_wait_timeout_ns + kSlackNs;
      const std::string name = fmt("transfer #%zu (%s rank%u -> rank%u)", index, to_string(t.kind), t.src, t.dst);
      const size_t op = begin_operation(name, false, bound);
      ops_[op].pair = {t.src, t.dst};
      std::optional<Notify> notify;
      if (t.tag) {
        notify = Notify{t.tag, 0};
        // The target's wait: once it ends well, the bytes must be in place.
        const size_t wait = begin_operation("wait for " + name, false, wait_bound);
        ops_[wait].pair = {t.src, t.dst};
        auto waited = cluster_->engine(t.dst).expect(rank_name(t.src), t.tag, 1, [this, wait, &t](const TransferResult& r) {
          if (r.ok() && !torn_down_) {
            if (auto wrong = wrong_bytes(t)) violation("notified means landed: " + ops_[wait].name + " woke with " + *wrong);
          }
          ended(wait, r);
        });
        if (!waited.ok()) ended(wait, waited.error());
      }
      auto done = [this, op, &t](const TransferResult& r) {
        if (r.ok() && !torn_down_) {
          if (auto wrong = wrong_bytes(t)) violation("success means landed: " + ops_[op].name + " succeeded but " + *wrong);
        }
        ended(op, r);
      };
      Engine& engine = cluster_->engine(t.src);
      const std::string peer = rank_name(t.dst);
      Result<TransferId> posted = make_error(ErrorCode::kInternal, "not posted");
      if (t.kind == TransferKind::kPaged) {
        PagedTransfer pages;
        pages.src_pages = t.src_pages;
        pages.dst_pages = t.dst_pages;
        pages.page_bytes = t.page_bytes;
        pages.src_base = buffers_[t.src].data();
        pages.src_stride = t.page_bytes;
        pages.dst = regions_[t.src][t.dst];
        pages.dst_offset = t.dst_offset;
        pages.dst_stride = t.page_bytes;
        posted = engine.write_paged(peer, pages, notify, done);
      } else {
        posted = engine.write(peer, buffers_[t.src].data() + t.src_offset, t.bytes, regions_[t.src][t.dst],
                              t.dst_offset, notify, done);
      }
      if (!posted.ok()) ended(op, posted.error());
    });
  }

  // One rank's all-reduce, checked element by element against the exact reduction.
  Task<TransferResult> all_reduce_on(uint32_t rank, size_t op) {
    const CollectiveDraw& c = plan_.collective;
    const uint32_t n = plan_.cluster.ranks;
    std::vector<float> data(c.count);
    coll::testing::fill_exact(data.data(), data.size(), coll::DType::kFloat32, rank, n, plan_.seed);
    TransferResult r = co_await coll::all_reduce(*comms_[rank], data.data(), c.count, coll::DType::kFloat32,
                                                 coll::ReduceOp::kSum, c.algorithm);
    if (r.ok() && !torn_down_) {
      const size_t wrong = coll::testing::count_wrong(data.data(), data.size(), coll::DType::kFloat32, [&](size_t i) {
        return coll::testing::exact_reduction(i, n, coll::ReduceOp::kSum, plan_.seed);
      });
      if (wrong) violation(fmt("success means right: %s succeeded with %zu wrong elements", ops_[op].name.c_str(), wrong));
    }
    ended(op, r);
    co_return r;
  }

  void schedule_collective() {
    scratch_ = std::make_unique<testing::SymmetricAllocation>(*cluster_, plan_.collective.scratch_bytes);
    for (uint32_t r = 0; r < plan_.cluster.ranks; ++r) {
      comms_.push_back(std::make_unique<coll::Communicator>(groups_[r], scratch_->view(r)));
    }
    ++unstarted_;
    emu_->at(plan_.collective.at_ns, [this] {
      --unstarted_;
      // Two ranks cut apart stall every rank of an all-reduce.
      const uint64_t bound = workload_bound(std::max(emu_->now_ns(), plan_.last_fault_ns()));
      for (uint32_t r = 0; r < plan_.cluster.ranks; ++r) {
        const size_t op = begin_operation(fmt("all_reduce on rank%u", r), plan_.can_cut(all_ranks()), bound);
        tasks_.push_back(all_reduce_on(r, op));
        tasks_.back().start();
      }
    });
  }

  // The KV content of the request: 1 in every element's top bits.
  static constexpr uint32_t kKvContent = 1;
  static constexpr uint64_t kKvRequest = 1;

  // Every element of the request's blocks on decode rank d is the content's; the first
  // wrong one otherwise.
  std::optional<std::string> wrong_kv(uint32_t d) {
    const PagedKvLayout& l = kv_decode_;
    const std::vector<uint8_t> pool = kv_pools_->read(plan_.kv.prefill_tp + d, 0, l.pool_bytes());
    std::optional<std::string> wrong;
    testing::for_each_kv_element(l, kv_request_.decode_blocks, d, [&](uint64_t offset, uint32_t value) {
      uint32_t have = 0;
      std::memcpy(&have, pool.data() + offset, 4);
      const uint32_t want = kKvContent << 28 | value;
      if (have != want && !wrong) {
        wrong = fmt("decode rank %u pool offset %llu holds %s, expected %s", d, static_cast<unsigned long long>(offset),
                    testing::describe_kv_element(have).c_str(), testing::describe_kv_element(want).c_str());
      }
    });
    return wrong;
  }

  Task<TransferResult> kv_send_on(uint32_t p, size_t op) {
    const KvSendReport report = co_await kv_senders_[p]->finished(kKvRequest);
    ended(op, report.result, report.cancelled);
    co_return report.result;
  }
  Task<TransferResult> kv_receive_on(uint32_t d, size_t op) {
    const KvReceiveReport report = co_await kv_receivers_[d]->finished(kKvRequest);
    if (report.result.ok() && !torn_down_) {
      if (auto wrong = wrong_kv(d)) violation("success means landed: " + ops_[op].name + " succeeded but " + *wrong);
    }
    ended(op, report.result);
    co_return report.result;
  }

  // Prefill ranks [0, P) send one request to decode ranks [P, P+D), as kv_cluster.h
  // sets them up: pools in one symmetric allocation, a sender per prefill rank, a
  // receiver per decode rank.
  void schedule_kv() {
    const KvDraw& kv = plan_.kv;
    const PagedKvLayout prefill = testing::small_model(kv.prefill_tp, 24);
    kv_decode_ = testing::small_model(kv.decode_tp, 32);
    kv_pools_ = std::make_unique<testing::SymmetricAllocation>(
        *cluster_, std::max(prefill.pool_bytes(), kv_decode_.pool_bytes()));
    std::vector<std::string> prefill_names;
    for (uint32_t p = 0; p < kv.prefill_tp; ++p) prefill_names.push_back(rank_name(p));
    for (uint32_t p = 0; p < kv.prefill_tp; ++p) {
      std::vector<KvDecodeRank> decode_ranks;
      for (uint32_t d = 0; d < kv.decode_tp; ++d) {
        decode_ranks.push_back({rank_name(kv.prefill_tp + d), kv_pools_->view(p).remote[kv.prefill_tp + d], 0});
      }
      auto sender = KvSender::create(cluster_->engine(p), {prefill, p, kv_pools_->view(p).local, kv_decode_, decode_ranks});
      if (!sender.ok()) return violation("setup: KV sender: " + sender.error().to_string());
      kv_senders_.push_back(std::move(sender).value());
    }
    for (uint32_t d = 0; d < kv.decode_tp; ++d) {
      auto receiver = KvReceiver::create(cluster_->engine(kv.prefill_tp + d), {prefill, kv_decode_, d, prefill_names});
      if (!receiver.ok()) return violation("setup: KV receiver: " + receiver.error().to_string());
      kv_receivers_.push_back(std::move(receiver).value());
    }
    kv_request_ = KvRequest{kKvRequest, testing::slice(testing::shuffled_blocks(prefill, plan_.seed), 0, kv.blocks),
                            testing::slice(testing::shuffled_blocks(kv_decode_, plan_.seed + 1), 0, kv.blocks)};
    for (uint32_t p = 0; p < kv.prefill_tp; ++p) {
      std::vector<uint8_t> pool = kv_pools_->read(p, 0, prefill.pool_bytes());
      testing::for_each_kv_element(prefill, kv_request_.prefill_blocks, p, [&](uint64_t offset, uint32_t value) {
        const uint32_t element = kKvContent << 28 | value;
        std::memcpy(pool.data() + offset, &element, 4);
      });
      kv_pools_->write(p, 0, pool);
    }
    ++unstarted_;
    emu_->at(kv.at_ns, [this, prefill] {
      --unstarted_;
      const KvDraw& kv = plan_.kv;
      std::vector<uint32_t> kv_ranks(kv.prefill_tp + kv.decode_tp);
      std::iota(kv_ranks.begin(), kv_ranks.end(), 0u);
      const bool may_fail = plan_.can_cut(kv_ranks);
      const uint64_t layers_ns = emu_->now_ns() + prefill.layers * kv.layer_gap_ns;
      const uint64_t bound = workload_bound(std::max(layers_ns, plan_.last_fault_ns()));
      // The decode side begins first: it owns the blocks.
      for (uint32_t d = 0; d < kv.decode_tp; ++d) {
        const size_t op = begin_operation(fmt("kv receive on rank%u", kv.prefill_tp + d), may_fail, bound);
        if (VoidResult begun = kv_receivers_[d]->begin(kv_request_); !begun.ok()) {
          ended(op, begun);
          continue;
        }
        tasks_.push_back(kv_receive_on(d, op));
        tasks_.back().start();
      }
      for (uint32_t p = 0; p < kv.prefill_tp; ++p) {
        const size_t op = begin_operation(fmt("kv send on rank%u", p), may_fail, bound);
        if (VoidResult begun = kv_senders_[p]->begin(kv_request_); !begun.ok()) {
          ended(op, begun);
          continue;
        }
        tasks_.push_back(kv_send_on(p, op));
        tasks_.back().start();
      }
      // The prefill's compute hands the layers over one after another; a refusal means
      // the request already stopped, which its finished() reports.
      for (uint32_t layer = 0; layer < prefill.layers; ++layer) {
        emu_->at(emu_->now_ns() + layer * kv.layer_gap_ns, [this, layer] {
          if (torn_down_) return;
          for (auto& sender : kv_senders_) (void)sender->layer_ready(kKvRequest, layer);
        });
      }
    });
  }

  // One rank's part of the broadcast; on success its region holds the root's bytes.
  Task<TransferResult> broadcast_on(uint32_t rank, size_t op) {
    const BroadcastDraw& b = plan_.broadcast;
    weights::BroadcastOptions options;
    options.fanout = b.fanout;
    options.chunk_bytes = b.chunk_bytes;
    options.chunks_in_flight = b.chunks_in_flight;
    const TransferResult r = co_await weights::broadcast(groups_[rank], b.root, weights_->view(rank), b.bytes, options);
    if (r.ok() && !torn_down_) {
      const uint8_t* held = weights_->data(rank);
      for (uint64_t i = 0; i < b.bytes; ++i) {
        if (held[i] != pattern_byte(b.root, plan_.seed, i)) {
          violation(fmt("success means landed: %s succeeded but byte %llu is %d, expected %d", ops_[op].name.c_str(),
                        static_cast<unsigned long long>(i), held[i], pattern_byte(b.root, plan_.seed, i)));
          break;
        }
      }
    }
    ended(op, r);
    co_return r;
  }

  void schedule_broadcast() {
    const BroadcastDraw& b = plan_.broadcast;
    weights_ = std::make_unique<testing::SymmetricAllocation>(*cluster_, b.bytes + weights::kChecksumBytes);
    for (uint64_t i = 0; i < b.bytes; ++i) weights_->data(b.root)[i] = pattern_byte(b.root, plan_.seed, i);
    ++unstarted_;
    emu_->at(b.at_ns, [this] {
      --unstarted_;
      const uint64_t bound = workload_bound(std::max(emu_->now_ns(), plan_.last_fault_ns()));
      for (uint32_t r = 0; r < plan_.cluster.ranks; ++r) {
        const size_t op = begin_operation(fmt("weights broadcast on rank%u", r), plan_.can_cut(all_ranks()), bound);
        tasks_.push_back(broadcast_on(r, op));
        tasks_.back().start();
      }
    });
  }

  // Byte i of micro-batch m of the pipeline link.
  uint8_t micro_batch_byte(uint64_t m, uint64_t i) const {
    return pattern_byte(plan_.pipeline.src, plan_.seed * 64 + m, i);
  }

  Task<TransferResult> pipeline_send(size_t op) {
    const PipelineDraw& l = plan_.pipeline;
    uint8_t* out = pipeline_memory_->data(l.src) + pp_link_.receive_area_bytes() + pp::StageLink::kSenderScratchBytes;
    TransferResult r;
    for (uint64_t m = 0; m < l.micro_batches && r.ok(); ++m) {
      // The previous send completed, so its source may change.
      for (uint64_t i = 0; i < l.bytes(m); ++i) out[i] = micro_batch_byte(m, i);
      r = co_await pp_sender_->send(out, l.bytes(m));
    }
    ended(op, r);
    co_return r;
  }

  Task<TransferResult> pipeline_receive(size_t op) {
    const PipelineDraw& l = plan_.pipeline;
    TransferResult r;
    for (uint64_t m = 0; m < l.micro_batches && r.ok(); ++m) {
      Result<pp::Message> got = co_await pp_receiver_->recv();
      if (!got.ok()) {
        r = got.error();
        break;
      }
      if (torn_down_) break;
      std::optional<std::string> wrong;
      if (got->sequence != m || got->bytes.size() != l.bytes(m)) {
        wrong = fmt("micro-batch %llu came as sequence %llu of %zu bytes", static_cast<unsigned long long>(m),
                    static_cast<unsigned long long>(got->sequence), got->bytes.size());
      }
      for (uint64_t i = 0; !wrong && i < got->bytes.size(); ++i) {
        if (got->bytes[i] != micro_batch_byte(m, i)) {
          wrong = fmt("micro-batch %llu byte %llu is %d, expected %d", static_cast<unsigned long long>(m),
                      static_cast<unsigned long long>(i), got->bytes[i], micro_batch_byte(m, i));
        }
      }
      if (wrong) violation("received means landed: " + ops_[op].name + ": " + *wrong);
      pp_receiver_->release();
    }
    ended(op, r);
    co_return r;
  }

  // One link between two stages, set up as the pipeline harness sets up each of its own:
  // slots at offset 0 of the receiver's area, the sender's header scratch and its
  // outgoing micro-batch after them in its own.
  void schedule_pipeline() {
    const PipelineDraw& l = plan_.pipeline;
    pp_link_ = pp::StageLink{0, l.credits, l.max_bytes};
    if (VoidResult valid = pp_link_.validate(); !valid.ok()) return violation("setup: pipeline link: " + valid.error().to_string());
    pipeline_memory_ = std::make_unique<testing::SymmetricAllocation>(
        *cluster_, pp_link_.receive_area_bytes() + pp::StageLink::kSenderScratchBytes + l.max_bytes);
    pp_sender_ = std::make_unique<pp::StageSender>(cluster_->engine(l.src), rank_name(l.dst), pp_link_,
                                                   pipeline_memory_->view(l.src).remote[l.dst], 0,
                                                   pipeline_memory_->data(l.src) + pp_link_.receive_area_bytes());
    pp_receiver_ = std::make_unique<pp::StageReceiver>(cluster_->engine(l.dst), rank_name(l.src), pp_link_,
                                                       pipeline_memory_->data(l.dst));
    ++unstarted_;
    emu_->at(l.at_ns, [this] {
      --unstarted_;
      const PipelineDraw& l = plan_.pipeline;
      const bool may_fail = plan_.can_cut({l.src, l.dst});
      const uint64_t bound = workload_bound(std::max(emu_->now_ns(), plan_.last_fault_ns()));
      const size_t receive = begin_operation(fmt("pipeline receive on rank%u", l.dst), may_fail, bound);
      tasks_.push_back(pipeline_receive(receive));
      tasks_.back().start();
      const size_t send = begin_operation(fmt("pipeline send on rank%u", l.src), may_fail, bound);
      tasks_.push_back(pipeline_send(send));
      tasks_.back().start();
    });
  }

  // Workloads first (a call still suspended releases its tags from its engine), engines
  // next, then the fabric; nothing may call back meanwhile.
  void tear_down() {
    torn_down_ = true;
    tasks_.clear();
    kv_senders_.clear();
    kv_receivers_.clear();
    pp_sender_.reset();
    pp_receiver_.reset();
    comms_.clear();
    cluster_.reset();
    scratch_.reset();
    kv_pools_.reset();
    weights_.reset();
    pipeline_memory_.reset();
  }

  const SeedPlan& plan_;
  SeedOutcome& out_;
  bool torn_down_ = false;
  size_t unstarted_ = 0;  // scheduled transfers and workloads not begun yet
  std::vector<Operation> ops_;
  std::vector<uint32_t> struck_;         // per rank: a bit per rail a disruptive fault struck
  std::vector<std::vector<bool>> cut_;  // [a][b]: a lost, or a NIC of one dead before they connected
  std::vector<std::vector<uint8_t>> buffers_;
  std::vector<std::vector<RemoteRegion>> regions_;  // regions_[a][b]: b's buffer as a sees it
  // In reverse order of destruction when a setup step failed; tear_down() otherwise.
  std::unique_ptr<EngineCluster> cluster_;
  emu::Fabric* emu_ = nullptr;  // the cluster's fabric
  std::vector<Group> groups_;
  std::unique_ptr<testing::SymmetricAllocation> scratch_;
  std::vector<std::unique_ptr<coll::Communicator>> comms_;
  std::unique_ptr<testing::SymmetricAllocation> kv_pools_;
  std::unique_ptr<testing::SymmetricAllocation> weights_;
  std::unique_ptr<testing::SymmetricAllocation> pipeline_memory_;
  pp::StageLink pp_link_;
  std::unique_ptr<pp::StageSender> pp_sender_;
  std::unique_ptr<pp::StageReceiver> pp_receiver_;
  PagedKvLayout kv_decode_;
  KvRequest kv_request_;
  std::vector<std::unique_ptr<KvSender>> kv_senders_;
  std::vector<std::unique_ptr<KvReceiver>> kv_receivers_;
  std::vector<Task<TransferResult>> tasks_;
};

}  // namespace

SeedOutcome run_plan(const SeedPlan& plan) {
  SeedOutcome out;
  out.seed = plan.seed;
  SeedRun(plan, out).run();
  return out;
}

}  // namespace ferry::swarm
