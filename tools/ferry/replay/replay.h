// Replay: runs a scenario's workloads on a fabric (emu, sim or verbs), one engine per
// rank, all driven from one thread, and measures and checks what they move (docs/cli.md,
// `ferry replay`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "tools/ferry/replay/progress.h"

namespace ferry::replay {

// A replay spread over processes, one per cluster node (docs/deployment.md): this
// process runs node `node`'s ranks and meets the other nodes' processes in `directory`.
struct NodeProcess {
  uint32_t node = 0;
  std::string directory;              // etcd://HOST:PORT or file:///PATH
  std::string cluster = "replay";     // the run's namespace in the directory
  uint64_t peer_timeout_ms = 60'000;  // a peer that has not come or answered by then is an error
  uint64_t fingerprint = 0;           // of the scenario and the options that shape the run
  std::string label;                  // what the fingerprint stands for ("default.yaml, seed 1, ...")
};

// How the replay's real fabrics are set up, beside the scenario (the command line).
struct FabricChoices {
  // The IPv4 address the tcp providers and the processes' mailboxes listen on and
  // publish: the address peers reach this host at.
  std::string host = "127.0.0.1";
  std::string verbs_device;                    // a device name filter, over the scenario's
  std::optional<uint8_t> verbs_port;           // default 1
  std::optional<int> verbs_gid_index;          // default: a RoCE v2 GID with an IPv4 address
  std::optional<uint32_t> verbs_max_inline;    // default 64
};

struct ReplayOptions {
  std::optional<uint64_t> seed;  // instead of the fabric's
  // What stderr shows while it runs: nothing, a line per workload, or a bar redrawn in
  // place (a terminal).
  ProgressStyle progress = ProgressStyle::kLines;
  // Replays at most this many operations of each workload (pd_disagg requests, pp
  // micro-batches, tp_decode all-reduces, moe dispatches and combines); 0: all.
  uint64_t max_operations = 0;
  // Bounds that keep a broken run from hanging: virtual time per workload, and wall time
  // for the whole replay.
  uint64_t workload_horizon_ns = 120'000'000'000;
  double wall_limit_s = 300;
  // Set: this process runs one node of the cluster (tcp and verbs only).
  std::optional<NodeProcess> process;
  FabricChoices fabric;
};

// pd_disagg: one request's KV-cache migration. The replay runs prefill as already done
// when the request starts, so the whole transfer sits between the end of prefill and the
// first decode step: kv_ns is the KV transfer's contribution to time-to-first-token.
struct KvRequestTiming {
  uint64_t request = 0;
  uint64_t context_tokens = 0;
  uint64_t bytes = 0;
  uint64_t arrival_ns = 0;  // when the request arrived (the workload's arrival process)
  uint64_t start_ns = 0;    // when its transfer began: once it arrived and the one before was done
  uint64_t kv_ns = 0;       // until the last byte landed on every decode rank
  // What moved: whole KV blocks of block_tokens each, so a scaled-down request of 3
  // tokens moves a 16-token block. 0: not known (a hand-built report).
  uint64_t blocks = 0;
  uint64_t block_tokens = 0;

  uint64_t tokens_moved() const { return blocks * block_tokens; }
};

// A scenario value as the report shows it: the scenario file's key and its final value
// (defaults filled in, the scale applied), e.g. {"layers", "80"}.
struct ScenarioParameter {
  std::string key;
  std::string value;
};

// What the replay ran: the scenario's model, cluster, fabric and workloads, so that the
// report stands on its own (scenario_parameters.cc).
struct ScenarioParameters {
  struct Workload {
    std::string name;
    std::string kind;
    std::vector<ScenarioParameter> keys;
  };
  double scale = 1;
  std::vector<ScenarioParameter> model;
  std::vector<ScenarioParameter> cluster;
  std::string fabric_provider;  // the provider the scenario's fabric section names
  std::vector<ScenarioParameter> fabric;
  std::vector<Workload> workloads;
};

// A scenario fault as the fabric applied it.
struct AppliedFault {
  uint64_t at_ns = 0;  // since the replay's start
  std::string kind;    // "link_down", "loss_rate", ... (the scenario's names)
  std::string target;  // "node1/nic0", "node2" (node_loss)
  std::string detail;  // e.g. "probability 0.01"; empty for most kinds
};

// One of the fabric's event counters over the whole run; no value where the provider
// does not count it (`missing` says why, e.g. "not modelled").
struct FabricCounter {
  std::string name;  // "packets dropped at switch queues", ...
  std::optional<uint64_t> value;
  std::string missing;
  std::string unit;  // "" for a count, "ns" for a time
};

// Bytes one NIC put on and took off the wire in each interval of virtual time: the
// throughput chart. On a virtual-time fabric these are the fabric's wire counters; on a
// real one, what the engines' rails completed, and rx_bytes stays 0.
struct NicTimeline {
  std::string name;              // "node0/nic1": cluster node and NIC index
  std::vector<uint64_t> bytes;   // bytes[i]: sent in [i, i+1) * ReplayReport::interval_ns
  std::vector<uint64_t> rx_bytes;  // received, as bytes (empty in hand-built reports)
  double gbps = 0;               // the NIC's line rate; 0: not known
};

// One operation of a workload on one rank, for trace.json.
struct OperationSpan {
  uint32_t rank = 0;
  uint32_t workload = 0;  // index in ReplayReport::workloads
  std::string name;       // e.g. "all_reduce 3", "kv request 2", "micro-batch 5"
  uint64_t start_ns = 0;  // since the replay's start
  uint64_t end_ns = 0;
};

struct WorkloadReport {
  std::string name;
  std::string kind;
  uint64_t operations = 0;       // operations completed (all-reduces, requests, micro-batches, ...)
  uint64_t planned = 0;          // operations the scenario asked for (after the cap)
  uint64_t bytes = 0;            // payload bytes moved between ranks
  std::vector<uint64_t> latencies_ns;  // one per completed operation, virtual
  uint64_t simulated_ns = 0;
  double wall_s = 0;
  uint64_t verify_failures = 0;  // data that did not arrive as sent
  std::vector<std::string> errors;
  std::string note;              // e.g. a cap that applied
  bool completed = false;        // every operation finished and verified
  uint64_t start_ns = 0;         // virtual time the workload began (since the replay's start)
  bool lists_requests = false;             // the kind lists its requests (pd_disagg)
  std::vector<KvRequestTiming> requests;  // one per completed request, where it lists them

  uint64_t percentile_ns(double p) const;
  double throughput_gbps() const;  // bytes over simulated time
};

struct ReplayReport {
  std::string scenario;
  std::string provider = "emu";
  std::string mode;
  uint64_t seed = 0;
  uint32_t ranks = 0;
  std::vector<WorkloadReport> workloads;
  std::vector<std::string> errors;  // outside the workloads (setup, faults)
  uint64_t faults_applied = 0;
  uint64_t trace_hash = 0;
  uint64_t simulated_ns = 0;
  double wall_s = 0;
  uint64_t interval_ns = 0;        // width of one NicTimeline interval; 0: no timelines
  std::vector<NicTimeline> nics;   // one per NIC that moved anything
  uint32_t gpus_per_node = 1;      // rank r is GPU r % gpus_per_node of node r / gpus_per_node
  bool virtual_time = true;        // simulated_ns is virtual (emu deterministic, sim); else wall
  std::vector<std::string> notes;  // how the scenario was mapped onto the provider
  std::vector<OperationSpan> spans;  // at most kMaxSpans, in the order they ended
  uint64_t spans_dropped = 0;        // beyond kMaxSpans
  // Spread over processes: this process's node and its ranks [first_rank, end_rank); the
  // other nodes' verdicts ("node 1: ok", "node 1: FAILED: ...") as they told them.
  bool spread = false;
  uint32_t node = 0;
  uint32_t nodes = 1;
  uint32_t first_rank = 0;
  uint32_t end_rank = 0;
  std::vector<std::string> peers;
  ScenarioParameters parameters;
  std::vector<AppliedFault> faults;     // in the order applied
  std::vector<FabricCounter> counters;  // the fabric's, summed over every NIC and switch
  std::string timing_model;             // what the provider's timing leaves out (timing_model.h)

  bool ok() const;
};

// Runs every workload in file order on `provider` (the scenario's fabric parameters when it
// names that provider, else the provider's defaults). Never throws; problems land in the
// report (a fabric that cannot be built, e.g. verbs without an RDMA device, is an error
// in report.errors and nothing runs).
ReplayReport replay(const scenarios::Scenario& scenario, scenarios::ProviderKind provider,
                    const ReplayOptions& options);

// The summary table, one row per workload (pd_disagg: and its requests' KV timing).
std::string format_table(const ReplayReport& report);
// pd_disagg: the KV transfer's share of each request's time to first token, one line per
// request, or p50/p99/max when there are more than kKvRequestsListed.
std::string format_kv_requests(const WorkloadReport& workload);
// report.json's contents; `with_wall_time` false leaves out the wall-clock figures.
std::string to_json(const ReplayReport& report, bool with_wall_time = true);

// tp_decode replays at most this many all-reduces (times --scale, at least one per layer
// pair of a token is not guaranteed): the full count of the default scenario is 448.
constexpr uint64_t kMaxAllReduces = 128;

// A moe workload with ep x NICs per node above this runs rail-aligned (docs/cli.md).
constexpr uint64_t kMaxAllToAllRails = 64;

// A transfer's deadline in a replay spread over processes (docs/deployment.md).
constexpr uint64_t kSpreadTransferTimeoutNs = 10'000'000'000;

// trace.json holds at most this many operation spans (the first ones).
constexpr size_t kMaxSpans = 20'000;

// The table lists each pd_disagg request up to this many; beyond, p50/p99/max of kv_ns.
constexpr size_t kKvRequestsListed = 8;

}  // namespace ferry::replay
