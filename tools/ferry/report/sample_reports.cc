#include "tools/ferry/report/sample_reports.h"

#include <cstdint>
#include <limits>

#include "transport/random.h"

namespace ferry::report {
namespace {

using replay::KvRequestTiming;
using replay::NicTimeline;
using replay::ReplayReport;
using replay::WorkloadReport;

// A fixed pseudo-random sequence (splitmix64), so that samples look like measurements
// and are the same on every run.
struct Sequence {
  uint64_t state;
  uint64_t next() { return splitmix64_next(state); }
  uint64_t around(uint64_t center, uint64_t spread) { return center - spread / 2 + next() % (spread + 1); }
};

WorkloadReport workload(const std::string& name, const std::string& kind, uint64_t ops, uint64_t latency_ns,
                        uint64_t start_ns, Sequence& seq) {
  WorkloadReport w;
  w.name = name;
  w.kind = kind;
  w.operations = w.planned = ops;
  w.start_ns = start_ns;
  for (uint64_t i = 0; i < ops; ++i) w.latencies_ns.push_back(seq.around(latency_ns, latency_ns / 2));
  w.bytes = ops * 1'048'576;
  w.simulated_ns = ops * latency_ns;
  w.wall_s = 0.01 * static_cast<double>(ops);
  w.completed = true;
  return w;
}

void add_requests(WorkloadReport& w, uint64_t count, Sequence& seq) {
  uint64_t at = w.start_ns;
  for (uint64_t i = 0; i < count; ++i) {
    KvRequestTiming t;
    t.request = i;
    t.context_tokens = 1024 * (1 + seq.next() % 128);
    t.bytes = t.context_tokens * 327'680;
    t.start_ns = at;
    t.kv_ns = t.bytes / 40 + seq.next() % 20'000;  // about 320 Gb/s
    t.block_tokens = 16;
    t.blocks = (t.context_tokens + 15) / 16;
    at += t.kv_ns;
    w.requests.push_back(t);
  }
}

void add_nics(ReplayReport& r, size_t nics, size_t intervals, Sequence& seq) {
  for (size_t n = 0; n < nics; ++n) {
    NicTimeline nic;
    nic.name = "node" + std::to_string(n / 8) + "/nic" + std::to_string(n % 8);
    for (size_t i = 0; i < intervals; ++i) {
      // busy in bursts, idle between them
      const bool busy = (i / 40 + n) % 3 != 0;
      nic.bytes.push_back(busy ? seq.around(400'000, 200'000) : seq.next() % 1000);
      nic.rx_bytes.push_back(busy ? seq.around(300'000, 200'000) : seq.next() % 1000);
    }
    nic.gbps = n < 2 ? 400 : 800;
    r.nics.push_back(std::move(nic));
  }
}

void set_hostile(std::string& s) { s = kHostileText; }

// A scenario's parameters as describe_scenario gives them, shortened.
replay::ScenarioParameters sample_parameters() {
  replay::ScenarioParameters p;
  p.scale = 0.25;
  p.model = {{"name", "llama-3-70b"}, {"layers", "80"}, {"hidden_size", "8192"}, {"kv_heads", "8"}};
  p.cluster = {{"nodes", "2"}, {"gpus_per_node", "8"}, {"nics_per_node", "4"},
               {"nic_rate", "400 Gb/s, 400 Gb/s, 800 Gb/s, 800 Gb/s"}, {"topology", "single_switch"}};
  p.fabric_provider = "emu";
  p.fabric = {{"mode", "deterministic"}, {"seed", "7"}, {"delay", "1000 ns"}};
  p.workloads = {{"decode", "tp_decode", {{"tp", "8"}, {"batch", "32"}, {"tokens", "4"}}},
                 {"pd", "pd_disagg", {{"requests", "64"}, {"context", "1024, 4096 tokens"}, {"block_size", "16"}}}};
  return p;
}

std::vector<replay::FabricCounter> sample_counters() {
  return {{"packets retransmitted", 17, "", ""},
          {"time paused by PFC (summed over devices)", 2'500'000, "", "ns"},
          {"ECN-marked packets", std::nullopt, "not modelled (no congestion control)", ""}};
}

}  // namespace

ReplayReport sample_report() {
  Sequence seq{1};
  ReplayReport r;
  r.scenario = "llama3-70b sample";
  r.mode = "deterministic";
  r.seed = 7;
  r.ranks = 16;
  r.trace_hash = 0x1234abcd5678ef90ull;
  r.interval_ns = 10'000;  // 10 us: 400,000 B per interval is 320 Gb/s
  uint64_t at = 0;
  const auto next = [&](WorkloadReport w) {
    w.start_ns = at;
    at += w.simulated_ns;
    r.workloads.push_back(std::move(w));
  };
  next(workload("decode", "tp_decode", 128, 9'000, 0, seq));
  WorkloadReport pd = workload("pd", "pd_disagg", 64, 30'000, 0, seq);
  add_requests(pd, 64, seq);
  next(std::move(pd));
  next(workload("moe", "moe", 40, 25'000, 0, seq));
  WorkloadReport pp = workload("pipeline", "pp", 16, 60'000, 0, seq);
  pp.completed = false;
  pp.operations = 12;
  pp.latencies_ns.resize(12);
  pp.verify_failures = 3;
  pp.errors = {"micro-batch 12: transfer failed: remote node lost", "micro-batch 13: not finished by the horizon"};
  pp.note = "stopped after a node loss";
  next(std::move(pp));
  next(workload("weights", "weight_load", 8, 120'000, 0, seq));
  r.simulated_ns = at;
  r.wall_s = 1.25;
  r.gpus_per_node = 8;
  r.notes = {"each rank is an emu node of its own with all its node's NICs",
             "tp_decode: 128 of the 448 all-reduces the scenario implies"};
  r.errors = {"fault at 2.1 ms: node 1 lost"};
  r.faults_applied = 2;
  r.faults = {{at / 3, "link_down", "node0/nic1", ""}, {at / 2, "loss_rate", "node1/nic0", "loss probability 0.01"}};
  r.counters = sample_counters();
  r.parameters = sample_parameters();
  r.timing_model = "emu deterministic: a sample timing model sentence.";
  add_nics(r, 4, static_cast<size_t>(at / r.interval_ns) + 1, seq);
  return r;
}

ReplayReport empty_report() { return ReplayReport{}; }

ReplayReport degenerate_report() {
  ReplayReport r;
  r.scenario = "degenerate";
  r.mode = "fast";
  r.virtual_time = false;
  WorkloadReport w;
  w.name = "nothing";
  w.kind = "pd_disagg";
  w.planned = 4;
  r.workloads.push_back(w);
  w.name = "zero";
  w.kind = "moe";
  w.latencies_ns = {0, 0, 0};
  w.operations = 3;
  r.workloads.push_back(w);
  r.nics.resize(2);
  r.nics[0].name = "node0/nic0";
  r.nics[1].name = "node0/nic1";
  r.nics[1].bytes = {0, 0, 0};
  r.interval_ns = 0;
  return r;
}

ReplayReport single_point_report() {
  ReplayReport r;
  r.scenario = "one of each";
  r.mode = "deterministic";
  Sequence seq{3};
  WorkloadReport w = workload("one", "pd_disagg", 1, 5'000, 0, seq);
  add_requests(w, 1, seq);
  // Scaled down: 3 tokens asked for, one whole 16-token block moved.
  w.requests[0].context_tokens = 3;
  w.requests[0].blocks = 1;
  r.workloads.push_back(w);
  r.nics.push_back(NicTimeline{"node0/nic0", {12'345}, {6'789}, 100});
  r.faults = {{500, "node_loss", "node1", ""}};
  r.interval_ns = 1000;
  r.simulated_ns = 1000;
  return r;
}

ReplayReport hostile_report() {
  ReplayReport r = sample_report();
  set_hostile(r.scenario);
  set_hostile(r.provider);
  set_hostile(r.mode);
  r.errors.push_back(kHostileText);
  r.notes.push_back(kHostileText);
  for (WorkloadReport& w : r.workloads) {
    set_hostile(w.name);
    if (w.kind != "pd_disagg") set_hostile(w.kind);
    set_hostile(w.note);
    w.errors.push_back(kHostileText);
  }
  for (NicTimeline& nic : r.nics) set_hostile(nic.name);
  set_hostile(r.timing_model);
  for (replay::AppliedFault& f : r.faults) {
    set_hostile(f.kind);
    set_hostile(f.target);
    set_hostile(f.detail);
  }
  for (replay::FabricCounter& c : r.counters) {
    set_hostile(c.name);
    set_hostile(c.missing);
    set_hostile(c.unit);
  }
  replay::ScenarioParameters& p = r.parameters;
  set_hostile(p.fabric_provider);
  for (auto* keys : {&p.model, &p.cluster, &p.fabric}) {
    for (replay::ScenarioParameter& k : *keys) set_hostile(k.key), set_hostile(k.value);
  }
  for (replay::ScenarioParameters::Workload& w : p.workloads) {
    set_hostile(w.name);
    set_hostile(w.kind);
    for (replay::ScenarioParameter& k : w.keys) set_hostile(k.key), set_hostile(k.value);
  }
  return r;
}

ReplayReport huge_report() {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  ReplayReport r;
  r.scenario = "huge";
  r.seed = kMax;
  r.ranks = std::numeric_limits<uint32_t>::max();
  r.gpus_per_node = std::numeric_limits<uint32_t>::max();
  r.trace_hash = kMax;
  r.simulated_ns = kMax;
  r.wall_s = 1e300;
  r.faults_applied = kMax;
  r.interval_ns = 1;
  r.nics.push_back(NicTimeline{"node0/nic0", {kMax, 0, kMax}, {kMax, kMax}, 1e300});
  r.nics.push_back(NicTimeline{"node0/nic1", {kMax}, {}, std::numeric_limits<double>::infinity()});
  r.faults = {{kMax, "link_down", "node0/nic0", ""}, {0, "link_up", "node0/nic0", ""}};
  r.counters = {{"packets dropped at full switch queues", kMax, "", ""}, {"time paused by PFC", kMax, "", "ns"},
                {"largest switch queue", kMax, "", "B"}};
  r.parameters.scale = 1e300;
  WorkloadReport w;
  w.name = "huge";
  w.kind = "pd_disagg";
  w.operations = w.planned = w.bytes = w.verify_failures = kMax;
  w.latencies_ns = {kMax, 0, kMax - 1};
  w.simulated_ns = 1;
  w.start_ns = kMax;
  w.wall_s = 1e300;
  w.completed = true;
  w.requests.push_back(KvRequestTiming{kMax, kMax, kMax, kMax, kMax, kMax, kMax, kMax});
  w.requests.push_back(KvRequestTiming{0, 0, 0, 0, 0, 0});
  r.workloads.push_back(w);
  w.start_ns = 5;  // before the first one ends: no workload bands
  w.simulated_ns = kMax;
  r.workloads.push_back(w);
  return r;
}

ReplayReport large_report() {
  Sequence seq{5};
  ReplayReport r;
  r.scenario = "large";
  r.mode = "deterministic";
  r.interval_ns = 1000;
  WorkloadReport w = workload("many", "pd_disagg", 100'000, 20'000, 0, seq);
  add_requests(w, 10'000, seq);
  r.workloads.push_back(std::move(w));
  r.simulated_ns = r.workloads[0].simulated_ns;
  add_nics(r, 32, 100'000, seq);
  return r;
}

std::vector<std::string> sample_report_names() {
  return {"sample", "empty", "degenerate", "single", "hostile", "huge", "large"};
}

bool sample_report_by_name(const std::string& name, ReplayReport* report) {
  if (name == "sample")
    *report = sample_report();
  else if (name == "empty")
    *report = empty_report();
  else if (name == "degenerate")
    *report = degenerate_report();
  else if (name == "single")
    *report = single_point_report();
  else if (name == "hostile")
    *report = hostile_report();
  else if (name == "huge")
    *report = huge_report();
  else if (name == "large")
    *report = large_report();
  else
    return false;
  return true;
}

}  // namespace ferry::report
