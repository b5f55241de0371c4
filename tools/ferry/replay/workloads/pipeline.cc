// pp: micro-batches' activations flow through the stages, tp lanes side by side, one
// coroutine per rank of each lane; the last stage checks every byte. Each stage keeps up to
// max_in_flight micro-batches on the wire to the next, cycling through as many buffers.
#include <algorithm>
#include <cstring>
#include <memory>

#include "scenarios/units.h"
#include "scenarios/workload_volume.h"
#include "tools/ferry/replay/workload_runner.h"
#include "transport/engine/task.h"
#include "transport/workloads/pp/stage_receiver.h"
#include "transport/workloads/pp/stage_sender.h"

namespace ferry::replay {
namespace {

using namespace scenarios;

uint8_t pp_byte(uint64_t micro_batch, uint32_t lane, uint64_t i) {
  return static_cast<uint8_t>((i * 2654435761u >> 7) ^ (micro_batch * 101) ^ (lane * 37) ^ (i >> 12));
}

uint16_t g_pipeline_links = 0;  // link ids, distinct across pp workloads of a replay

void run_pp(RunContext& c, const PipelineSpec& spec) {
  const uint64_t lane_bytes = std::max<uint64_t>(1, pipeline_micro_batch_bytes(spec, c.scenario.model) / spec.tp);
  c.report.planned = spec.micro_batches;
  pp::StageLink link;
  link.id = static_cast<uint16_t>(g_pipeline_links++ % pp::StageLink::kMaxLinks);
  link.credits = std::max<uint32_t>(4, spec.max_in_flight);
  link.max_message_bytes = lane_bytes;
  if (auto v = link.validate(); !v.ok()) return c.error(v.error().to_string());
  struct Lane {
    std::vector<std::unique_ptr<pp::StageSender>> senders;      // by boundary
    std::vector<std::unique_ptr<pp::StageReceiver>> receivers;  // by boundary
    std::vector<std::vector<uint8_t*>> send_buffers;            // by stage (none for the last)
  };
  if (!c.takes_part(iota_ranks(0, spec.stages * spec.tp))) return;
  auto lanes = std::make_unique<std::vector<Lane>>(spec.tp);
  for (uint32_t j = 0; j < spec.tp; ++j) {
    Lane& lane = (*lanes)[j];
    lane.send_buffers.resize(spec.stages);
    for (uint32_t s = 0; s + 1 < spec.stages; ++s) {
      for (uint32_t b = 0; b < spec.max_in_flight; ++b) {
        Result<Buffer> buf = c.world.registered(s * spec.tp + j, lane_bytes);
        if (!buf.ok()) return c.error(buf.error().message);
        lane.send_buffers[s].push_back(buf->data);
      }
    }
    // Senders where the sending rank is local, receivers where the receiving one is.
    for (uint32_t s = 0; s + 1 < spec.stages; ++s) {
      const uint32_t from = s * spec.tp + j, to = (s + 1) * spec.tp + j;
      Result<Buffer> slots = c.world.registered(to, link.receive_area_bytes());
      if (!slots.ok()) return c.error(slots.error().message);
      Result<Buffer> scratch = c.world.registered(from, pp::StageLink::kSenderScratchBytes);
      if (!scratch.ok()) return c.error(scratch.error().message);
      lane.senders.emplace_back();
      lane.receivers.emplace_back();
      if (c.world.local(from)) {
        Result<RemoteRegion> remote = c.world.import(from, *slots);
        if (!remote.ok()) return c.error(remote.error().message);
        lane.senders.back() =
            std::make_unique<pp::StageSender>(c.world.engine(from), rank_name(to), link, *remote, 0, scratch->data,
                                              spec.max_in_flight);
      }
      if (c.world.local(to)) {
        lane.receivers.back() =
            std::make_unique<pp::StageReceiver>(c.world.engine(to), rank_name(from), link, slots->data);
      }
    }
  }
  if (!c.meet(iota_ranks(0, spec.stages * spec.tp), 0, "pp's stage links")) return;
  auto failures = std::make_shared<std::vector<std::string>>();
  auto bad = std::make_shared<uint64_t>(0);
  // Per lane, stage and micro-batch: when the stage had it, when its send completed.
  auto held = std::make_shared<std::vector<std::pair<uint64_t, uint64_t>>>(
      uint64_t{spec.tp} * spec.stages * spec.micro_batches);
  World* world = &c.world;
  const uint32_t stages = spec.stages, micro_batches = spec.micro_batches;
  // One coroutine per rank of each lane.
  auto stage_task = [](World* world, Lane* lane, uint32_t lane_index, uint32_t stage, uint32_t stages,
                       uint32_t micro_batches, uint64_t bytes, std::shared_ptr<std::vector<std::string>> failures,
                       std::shared_ptr<uint64_t> bad,
                       std::shared_ptr<std::vector<std::pair<uint64_t, uint64_t>>> held) -> Task<void> {
    auto fail = [&](const std::string& why) {
      failures->push_back("stage " + std::to_string(stage) + " lane " + std::to_string(lane_index) + ": " + why);
    };
    auto times_of = [&](uint64_t m) -> std::pair<uint64_t, uint64_t>& {
      return (*held)[(uint64_t{lane_index} * stages + stage) * micro_batches + m];
    };
    pp::StageSender* tx = stage + 1 < stages ? lane->senders[stage].get() : nullptr;
    const uint32_t ring = tx ? tx->window() : 1;
    // A send's end is when this stage saw its write complete (waiting for its buffer).
    uint64_t stamped = 0;
    auto stamp_sent = [&](uint64_t count) {
      for (; stamped < count; ++stamped) times_of(stamped).second = world->now_ns();
    };
    for (uint64_t m = 0; m < micro_batches; ++m) {
      auto& times = times_of(m);
      uint8_t* out = nullptr;
      if (tx) {
        if (m >= ring) {
          TransferResult freed = co_await tx->wait_sent(m + 1 - ring);
          if (!freed.ok()) co_return fail(freed.error().message);
          stamp_sent(m + 1 - ring);
        }
        out = lane->send_buffers[stage][m % ring];
      }
      if (stage == 0) {
        for (uint64_t i = 0; i < bytes; ++i) out[i] = pp_byte(m, lane_index, i);
        times.first = world->now_ns();
      } else {
        Result<pp::Message> got = co_await lane->receivers[stage - 1]->recv();
        times.first = world->now_ns();
        if (!got.ok()) co_return fail(got.error().to_string());
        const auto& data = got->bytes;
        bool same = data.size() == bytes;
        for (uint64_t i = 0; same && i < bytes; ++i) same = data[i] == pp_byte(m, lane_index, i);
        if (!same) ++*bad;
        if (!tx) {
          times.second = world->now_ns();
          lane->receivers[stage - 1]->release();
          continue;
        }
        std::memcpy(out, data.data(), std::min<uint64_t>(bytes, data.size()));
        lane->receivers[stage - 1]->release();
      }
      TransferResult posted = co_await tx->post(out, bytes);
      if (!posted.ok()) co_return fail(posted.error().message);
    }
    if (!tx) co_return;
    TransferResult drained = co_await tx->wait_sent(tx->posted());
    if (!drained.ok()) co_return fail(drained.error().message);
    stamp_sent(micro_batches);
  };
  auto tasks = std::make_unique<std::vector<Task<void>>>();
  for (uint32_t j = 0; j < spec.tp; ++j) {
    for (uint32_t s = 0; s < stages; ++s) {
      if (!c.world.local(s * spec.tp + j)) continue;
      tasks->push_back(stage_task(world, &(*lanes)[j], j, s, stages, micro_batches, lane_bytes,
                                  failures, bad, held));
    }
  }
  for (auto& t : *tasks) t.start();
  if (!c.run([&] { return std::all_of(tasks->begin(), tasks->end(), [](auto& t) { return t.done(); }); })) {
    (void)tasks.release(), (void)lanes.release();
    return;
  }
  for (const std::string& f : *failures) c.error(f);
  c.report.verify_failures += *bad;
  if (*bad) c.error(std::to_string(*bad) + " micro-batch lanes arrived with wrong bytes");
  for (uint32_t j = 0; j < spec.tp; ++j) {
    for (uint32_t s = 0; s < stages; ++s) {
      if (!c.world.local(s * spec.tp + j)) continue;
      for (uint32_t m = 0; m < micro_batches; ++m) {
        const auto& [from, to] = (*held)[(uint64_t{j} * stages + s) * micro_batches + m];
        if (to >= from && to > 0) c.span(s * spec.tp + j, "micro-batch " + std::to_string(m), from, to);
      }
    }
  }
  // A micro-batch is done here once every local rank's part of it is: from when the first
  // of them had it to when the last stage had it (or, with no last stage here, when the
  // last local send of it completed). Bytes: what the local ranks sent.
  for (uint32_t m = 0; m < micro_batches; ++m) {
    uint64_t first = UINT64_MAX, last = 0, last_arrival = 0, sent = 0;
    bool done = true, arrives_here = false;
    for (uint32_t j = 0; j < spec.tp; ++j) {
      for (uint32_t s = 0; s < stages; ++s) {
        if (!c.world.local(s * spec.tp + j)) continue;
        const auto& [had, ended] = (*held)[(uint64_t{j} * stages + s) * micro_batches + m];
        if (ended == 0 || ended < had) done = false;
        first = std::min(first, had);
        last = std::max(last, ended);
        if (s + 1 == stages) arrives_here = true, last_arrival = std::max(last_arrival, ended);
        else sent += lane_bytes;
      }
    }
    if (!done) continue;
    ++c.report.operations;
    c.report.latencies_ns.push_back((arrives_here ? last_arrival : last) - first);
    c.report.bytes += sent;
  }
}

class PipelineRunner final : public RunnerFor<PipelineSpec> {
  WorkloadPlan plan_spec(const Scenario& s, const PipelineSpec& spec) const override {
    return {static_cast<uint32_t>(spec.ranks()),
            pipeline_micro_batch_bytes(spec, s.model) * spec.micro_batches * (spec.stages - 1), false};
  }
  std::string describe_spec(const ModelSpec& model, const PipelineSpec& s) const override {
    return std::to_string(s.stages) + " stages x tp " + std::to_string(s.tp) + ", " +
           count_of(s.micro_batches, "micro-batch", "micro-batches") + " of " + count_of(s.micro_batch_tokens, "token") +
           ": " + format_bytes(pipeline_micro_batch_bytes(s, model)) + " per micro-batch per stage boundary";
  }
  void run_spec(RunContext& c, const PipelineSpec& spec) const override {
    PipelineSpec capped = spec;
    capped.micro_batches = c.capped(spec.micro_batches, c.max_operations, "micro-batches");
    run_pp(c, capped);
  }
};

[[maybe_unused]] const bool kRegistered = register_workload(std::make_unique<PipelineRunner>());

}  // namespace
}  // namespace ferry::replay
