// Simulation speed, and what aggregated frames cost in accuracy.
//
//   bazel run --config=opt //sim:sim_bench
//
// BM_Stream: one host streams writes of 1 MiB to another through a switch at 400 Gb/s;
//   with leaf_spine, two hosts under one leaf to two under another, through a spine.
//   packets_per_second: simulated packets (every packet a NIC sent: data, ACKs, read
//   responses) per wall-clock (real) second; packets_per_cpu_second the same per CPU
//   second. frames_per_packet (the argument) > 1 makes one simulated packet stand for
//   that many MTU frames; frames_per_second counts those, per wall-clock second.
//   simulated_ns and wall_s: the virtual time the run covered and the wall-clock time
//   it took; simulated_ns_per_wall_s their ratio (RunClock, run_clock.h), and
//   simulated_ns_per_cpu_s the same per CPU second.
// BM_AggregationError: an incast and a lossy go-back-N transfer (see scenario_ns) with
//   several frames per packet; error_vs_full_fidelity is the relative difference of the
//   completion time of the last write from the same run at 1 frame per packet.
#include <benchmark/benchmark.h>

#include <cmath>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "sim/run_clock.h"
#include "sim/simulation.h"

namespace ferry::sim {
namespace {

constexpr uint32_t kAllAccess = kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead;

// One endpoint with its queue, domain and a registered buffer.
struct Side {
  std::unique_ptr<ProtectionDomain> pd;
  std::unique_ptr<CompletionQueue> cq;
  std::vector<uint8_t> buffer;
  std::unique_ptr<MemoryRegion> mr;
  std::unique_ptr<Endpoint> ep;
};

std::unique_ptr<Side> open(Provider& host, EndpointKind kind, size_t bytes) {
  auto side = std::make_unique<Side>();
  Device& device = host.device(0);
  side->pd = must(device.create_protection_domain());
  side->cq = must(device.create_completion_queue(4096));
  side->buffer.assign(bytes, 1);
  side->mr = must(side->pd->register_memory(side->buffer.data(), bytes, kAllAccess, MemoryKind::kHost));
  EndpointConfig config;
  config.kind = kind;
  config.send_cq = config.recv_cq = side->cq.get();
  config.retry_timeout_ns = 100'000;
  side->ep = must(side->pd->create_endpoint(config));
  return side;
}

void connect(Side& a, Side& b) {
  if (!a.ep->connect(b.ep->address()).ok() || !b.ep->connect(a.ep->address()).ok()) {
    throw std::runtime_error("connect failed");
  }
}

// Posts `count` writes of the whole buffer from `from` to `to`.
void post_writes(Side& from, Side& to, size_t count) {
  Sge sge{reinterpret_cast<uint64_t>(from.buffer.data()), static_cast<uint32_t>(from.buffer.size()),
          from.mr->lkey()};
  std::vector<WorkRequest> requests(count);
  for (size_t i = 0; i < count; ++i) {
    requests[i].cookie = i;
    requests[i].sg_list = &sge;
    requests[i].num_sge = 1;
    requests[i].remote_addr = reinterpret_cast<uint64_t>(to.buffer.data());
    requests[i].rkey = to.mr->rkey();
  }
  if (!from.ep->post_send(requests).ok()) throw std::runtime_error("post failed");
}

// Runs until `count` completions came to `side`; returns the time of the last.
uint64_t wait(Simulation& sim, Side& side, size_t count) {
  Completion batch[64];
  size_t seen = 0;
  while (seen < count) {
    const size_t n = must(side.cq->poll(batch));
    for (size_t i = 0; i < n; ++i) {
      if (batch[i].status != Status::kSuccess) {
        throw std::runtime_error(std::string("a write failed: ") + to_string(batch[i].status));
      }
    }
    seen += n;
    if (seen < count && !sim.run_until_completion()) throw std::runtime_error("went idle");
  }
  return sim.now_ns();
}

// CPU seconds of this process (the benchmark runs on one thread).
double cpu_s() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

void BM_Stream(benchmark::State& state) {
  const bool srd = state.range(0) != 0;
  const bool leaf_spine = state.range(2) != 0;
  SimulationConfig config;
  config.transport = srd ? Transport::kSrd : Transport::kRoceRc;
  config.frames_per_packet = static_cast<uint32_t>(state.range(1));
  // Leaf-spine: hosts 0 and 1 under leaf 0 stream to hosts 2 and 3 under leaf 1 through
  // one spine (an 800 Gb/s uplink at 1:1, so no ECMP collision decides the figure).
  const uint32_t pairs = leaf_spine ? 2 : 1;
  config.hosts = 2 * pairs;
  if (leaf_spine) {
    config.topology = Topology::kLeafSpine;
    config.hosts_per_leaf = 2;
    config.spines = 1;
  }
  const EndpointKind kind = srd ? EndpointKind::kSrd : EndpointKind::kRc;
  Simulation sim(config);
  std::vector<std::unique_ptr<Side>> from, to;
  for (uint32_t i = 0; i < pairs; ++i) {
    from.push_back(open(sim.host(i), kind, 1 << 20));
    to.push_back(open(sim.host(i + pairs), kind, 1 << 20));
    connect(*from.back(), *to.back());
  }
  constexpr size_t kWrites = 64;  // 64 MiB per pair and iteration
  const SimulationCounters before = sim.counters();
  const uint64_t virtual_start = sim.now_ns();
  const RunClock clock(sim);
  const double cpu_start = cpu_s();
  for (auto _ : state) {
    for (uint32_t i = 0; i < pairs; ++i) post_writes(*from[i], *to[i], kWrites);
    for (uint32_t i = 0; i < pairs; ++i) wait(sim, *from[i], kWrites);
  }
  const double cpu = cpu_s() - cpu_start;
  state.counters["simulated_ns"] = static_cast<double>(clock.simulated_ns());
  state.counters["wall_s"] = clock.wall_s();
  state.counters["simulated_ns_per_wall_s"] = clock.simulated_ns_per_wall_s();
  // The same per CPU second: steadier than wall time on a busy machine.
  state.counters["simulated_ns_per_cpu_s"] = static_cast<double>(clock.simulated_ns()) / cpu;
  const SimulationCounters after = sim.counters();
  const double packets = static_cast<double>(after.packets_sent - before.packets_sent);
  const double data = static_cast<double>(after.data_packets_sent - before.data_packets_sent);
  // Rates divide by real time: the benchmark is registered with UseRealTime().
  state.counters["packets_per_second"] = benchmark::Counter(packets, benchmark::Counter::kIsRate);
  state.counters["frames_per_second"] =
      benchmark::Counter(data * config.frames_per_packet, benchmark::Counter::kIsRate);
  state.counters["packets_per_cpu_second"] = packets / cpu;
  state.counters["simulated_gbps"] =
      static_cast<double>(state.iterations() * pairs * kWrites * (1 << 20)) * 8 /
      static_cast<double>(sim.now_ns() - virtual_start);
}
BENCHMARK(BM_Stream)
    ->ArgNames({"srd", "frames_per_packet", "leaf_spine"})
    ->Args({0, 1, 0})
    ->Args({1, 1, 0})
    ->Args({0, 4, 0})
    ->Args({0, 16, 0})
    ->Args({0, 1, 1})
    ->Args({1, 1, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The two scenarios of the accuracy check, as the completion time of their last write.
//  incast: 4 hosts write 8 MiB each to a fifth; the switch port buffer holds it all, so
//    the port queues rather than drops.
//  lossy: one 64 MiB RC write over 5 us links with loss 1e-3 per MTU frame on the
//    receiver's link (go-back-N).
enum Scenario : int64_t { kIncast = 0, kLossy = 1 };

uint64_t scenario_ns(Scenario scenario, uint32_t frames_per_packet, Transport transport) {
  SimulationConfig config;
  config.transport = transport;
  config.frames_per_packet = frames_per_packet;
  uint32_t senders = 1;
  uint64_t bytes = 64 << 20;
  if (scenario == kIncast) {
    senders = 4;
    bytes = 8 << 20;
    config.switch_port_buffer_bytes = 64 << 20;
  } else {
    config.access_link.delay_ns = 5'000;
    LinkConfig lossy = config.access_link;
    lossy.loss = 1e-3;
    config.link_overrides.push_back({LinkId::access(0, 0), lossy});
  }
  config.hosts = senders + 1;
  const EndpointKind kind = transport == Transport::kRoceRc ? EndpointKind::kRc : EndpointKind::kSrd;
  Simulation sim(config);
  std::vector<std::unique_ptr<Side>> from, to;
  for (uint32_t h = 1; h <= senders; ++h) {
    from.push_back(open(sim.host(h), kind, bytes));
    to.push_back(open(sim.host(0), kind, bytes));
    connect(*from.back(), *to.back());
  }
  for (size_t i = 0; i < from.size(); ++i) post_writes(*from[i], *to[i], 1);
  uint64_t last = 0;
  for (auto& sender : from) last = std::max(last, wait(sim, *sender, 1));
  return last;
}

void BM_AggregationError(benchmark::State& state) {
  const auto scenario = static_cast<Scenario>(state.range(0));
  const Transport transport = state.range(1) == 0 ? Transport::kRoceRc : Transport::kSrd;
  const auto frames = static_cast<uint32_t>(state.range(2));
  const double full = static_cast<double>(scenario_ns(scenario, 1, transport));
  double aggregated = 0;
  for (auto _ : state) aggregated = static_cast<double>(scenario_ns(scenario, frames, transport));
  state.counters["completion_us"] = aggregated / 1000;
  state.counters["full_fidelity_us"] = full / 1000;
  state.counters["error_vs_full_fidelity"] = (aggregated - full) / full;
}
BENCHMARK(BM_AggregationError)
    ->ArgNames({"lossy", "srd", "frames_per_packet"})
    ->ArgsProduct({{kIncast, kLossy}, {0, 1}, {4, 16}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ferry::sim

BENCHMARK_MAIN();
