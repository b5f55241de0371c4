// A pipeline of stages over an EngineCluster, one stage per rank, linked in a chain: what the
// pipeline tests start from. Stage 0 makes micro-batches, every middle stage transforms
// what it receives and forwards it, the last stage consumes; every receiving stage
// checks every byte against what the stages before it should have produced.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "transport/engine/task.h"
#include "transport/engine/testing/world.h"
#include "transport/workloads/pp/stage_receiver.h"
#include "transport/workloads/pp/stage_sender.h"
#include "transport/workloads/testing/symmetric.h"

namespace ferry::pp::testing {

using ferry::testing::SymmetricAllocation;

struct PipelineOptions {
  PipelineOptions() { world.ranks = 4; }

  // The fabric and the engines; one stage per rank.
  ferry::testing::WorldOptions world;
  uint32_t credits = 3;
  // Above the engine's stripe threshold: the largest micro-batches are multi-piece writes.
  uint64_t max_message_bytes = 300'000;
  uint32_t micro_batches = 40;
  // Micro-batches each sender keeps in flight (its window is at most the credits): each
  // stage cycles through as many output buffers.
  uint32_t in_flight = 3;
  // false: every micro-batch is max_message_bytes (benchmarks).
  bool varied_sizes = true;
  uint64_t srd_reorder_window_ns = 5'000;
};

// Sizes vary from micro-batch to micro-batch; 0 and the maximum both occur.
inline uint64_t message_bytes(const PipelineOptions& o, uint64_t m) {
  if (!o.varied_sizes) return o.max_message_bytes;
  if (m % 11 == 5) return 0;
  if (m % 7 == 0) return o.max_message_bytes;
  return (m * 7919 + 13) % o.max_message_bytes + 1;
}

// What stage `stage` (a middle one) does to byte i of an activation.
inline uint8_t transform(size_t stage, uint64_t i, uint8_t b) {
  return static_cast<uint8_t>(b * 5 + stage * 17 + i % 251);
}

// Byte i of micro-batch m as stage `stage` receives it: made by stage 0, transformed by
// stages 1 .. stage-1.
inline uint8_t expected_byte(size_t stage, uint64_t m, uint64_t i) {
  uint8_t b = ferry::testing::pattern_byte(0, m, i);
  for (size_t s = 1; s < stage; ++s) b = transform(s, i, b);
  return b;
}

class Pipeline {
 public:
  explicit Pipeline(const PipelineOptions& o)
      : options(o),
        cluster(fabric(o), ferry::testing::engine_config(o.world)),
        memory(cluster, link(0).receive_area_bytes() + kScratchSpan + o.in_flight * o.max_message_bytes,
               o.world.memory),
        finished_ns(stages(), 0),
        arrived_ns(stages()) {
    const uint64_t scratch = link(0).receive_area_bytes();
    receivers.resize(stages());
    senders.resize(stages());
    for (size_t s = 0; s + 1 < stages(); ++s) {
      // Every rank keeps the slots of the link into it at offset 0 of its area.
      senders[s] =
          std::make_unique<StageSender>(cluster.engine(s), ::ferry::rank_name(s + 1), link(s),
                                        memory.view(s).remote[s + 1], 0, memory.view(s).local + scratch,
                                        o.in_flight);
      receivers[s + 1] = std::make_unique<StageReceiver>(cluster.engine(s + 1), ::ferry::rank_name(s),
                                                         link(s), memory.view(s + 1).local);
    }
  }

  // Stage s to s+1; the ids differ only to exercise them.
  StageLink link(size_t s) const {
    return StageLink{static_cast<uint16_t>(s % StageLink::kMaxLinks), options.credits,
                     options.max_message_bytes};
  }
  // Stage s's output buffer `b` (of options.in_flight).
  uint64_t output_offset(uint32_t b = 0) const {
    return link(0).receive_area_bytes() + kScratchSpan + b * options.max_message_bytes;
  }
  uint8_t* output(size_t s, uint32_t b = 0) { return memory.view(s).local + output_offset(b); }
  size_t stages() const { return options.world.ranks; }
  size_t last() const { return stages() - 1; }

  // Stage s's whole run: make, relay or consume every micro-batch.
  Task<TransferResult> run_stage(size_t s) {
    TransferResult result = co_await stage_loop(s);
    finished_ns[s] = cluster.fabric().now_ns();
    co_return result;
  }

  void start() {
    for (size_t s = 0; s < stages(); ++s) tasks.push_back(run_stage(s));
    for (auto& t : tasks) t.start();
  }
  bool all_done() const {
    for (const auto& t : tasks) {
      if (!t.done()) return false;
    }
    return true;
  }
  bool any_done() const {
    for (const auto& t : tasks) {
      if (t.done()) return true;
    }
    return false;
  }
  // "stage S: message" of the first stage that ended, for test messages.
  std::string first_failure() {
    for (size_t s = 0; s < tasks.size(); ++s) {
      if (!tasks[s].done()) continue;
      const TransferResult& result = tasks[s].result();
      return "stage " + std::to_string(s) + ": " + (result.ok() ? "" : result.error().message);
    }
    return "none";
  }
  bool run() {
    return cluster.run_until([&] { return all_done(); });
  }

  PipelineOptions options;
  EngineCluster cluster;
  SymmetricAllocation memory;
  std::vector<std::unique_ptr<StageSender>> senders;      // [s]: stage s to s+1
  std::vector<std::unique_ptr<StageReceiver>> receivers;  // [s]: stage s-1 to s
  std::vector<Task<TransferResult>> tasks;
  std::vector<uint64_t> finished_ns;
  std::vector<std::vector<uint64_t>> arrived_ns;  // [s][m]: when stage s had micro-batch m
  std::vector<std::string> mismatches;  // what the receiving stages found wrong
  uint64_t credit_violations = 0;       // sends completed beyond the receiver's releases + credits

 private:
  static constexpr uint64_t kScratchSpan = StageLink::kSenderScratchBytes;

  static std::unique_ptr<Cluster> fabric(const PipelineOptions& o) {
    ferry::testing::WorldOptions world = o.world;
    world.srd_reorder_window_ns = o.srd_reorder_window_ns;
    return ferry::testing::make_fabric(world);
  }

  Task<TransferResult> stage_loop(size_t s) {
    for (uint64_t m = 0; m < options.micro_batches; ++m) {
      const uint64_t bytes = message_bytes(options, m);
      std::vector<uint8_t> in;  // a host copy of what arrived: the slots may be GPU memory
      if (s > 0) {
        Result<Message> got = co_await receivers[s]->recv();
        if (!got.ok()) co_return got.error();
        arrived_ns[s].push_back(cluster.fabric().now_ns());
        in.resize(got->bytes.size());
        if (!to_host(in.data(), got->bytes.data(), in.size())) co_return make_error(ErrorCode::kInternal, mismatches.back());
        check(s, m, got->sequence, in);
      }
      if (s == last()) continue;  // the next recv releases it
      // Output buffers go round: micro-batch m's is free once m - window is in its slot.
      const uint32_t ring = senders[s]->window();
      if (m >= ring) {
        TransferResult freed = co_await senders[s]->wait_sent(m + 1 - ring);
        if (!freed.ok()) co_return freed;
      }
      std::vector<uint8_t> out(bytes);
      for (uint64_t i = 0; i < bytes; ++i) {
        out[i] = s == 0 ? ferry::testing::pattern_byte(0, m, i) : transform(s, i, in[i]);
      }
      memory.write(s, output_offset(m % ring), out);
      if (s > 0) receivers[s]->release();
      TransferResult posted = co_await senders[s]->post(output(s, m % ring), bytes);
      if (!posted.ok()) co_return posted;
      // Back-pressure: the k-th write starts only once the receiver released k - credits.
      if (receivers[s + 1]->released() + options.credits < senders[s]->posted()) ++credit_violations;
    }
    if (s == last()) {
      receivers[s]->release();
      co_return TransferResult{};
    }
    co_return co_await senders[s]->wait_sent(senders[s]->posted());
  }

  bool to_host(uint8_t* dst, const uint8_t* src, uint64_t n) {
    auto copied = gpu::copy(dst, src, n, memory.kind());
    if (!copied.ok()) mismatches.push_back("reading a slot: " + copied.error().message);
    return copied.ok();
  }

  void check(size_t s, uint64_t m, uint64_t sequence, const std::vector<uint8_t>& got) {
    const std::string where = "stage " + std::to_string(s) + " micro-batch " + std::to_string(m) + ": ";
    if (sequence != m) mismatches.push_back(where + "came as sequence " + std::to_string(sequence));
    if (got.size() != message_bytes(options, m)) {
      mismatches.push_back(where + std::to_string(got.size()) + " bytes");
      return;
    }
    for (uint64_t i = 0; i < got.size(); ++i) {
      if (got[i] != expected_byte(s, m, i)) {
        mismatches.push_back(where + "byte " + std::to_string(i) + " differs");
        return;
      }
    }
  }
};

}  // namespace ferry::pp::testing
