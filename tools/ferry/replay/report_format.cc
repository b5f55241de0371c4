// The figures of a replay as text: percentiles, the summary table, report.json.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "tools/ferry/replay/replay.h"

namespace ferry::replay {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\', out += ch;
    else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else out += ch;
  }
  return out + "\"";
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// {"key": "value", ...} on one line, in the list's order.
std::string json_object(const std::vector<ScenarioParameter>& keys) {
  std::string out = "{";
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? ", " : "") + json_string(keys[i].key) + ": " + json_string(keys[i].value);
  return out + "}";
}

std::string json_parameters(const ScenarioParameters& p) {
  std::ostringstream out;
  out << "{\n    \"scale\": " << p.scale << ",\n    \"model\": " << json_object(p.model)
      << ",\n    \"cluster\": " << json_object(p.cluster) << ",\n    \"fabric_provider\": "
      << json_string(p.fabric_provider) << ",\n    \"fabric\": " << json_object(p.fabric) << ",\n    \"workloads\": [";
  for (size_t i = 0; i < p.workloads.size(); ++i) {
    const ScenarioParameters::Workload& w = p.workloads[i];
    out << (i ? ",\n      " : "\n      ") << "{\"name\": " << json_string(w.name) << ", \"kind\": " << json_string(w.kind)
        << ", \"keys\": " << json_object(w.keys) << "}";
  }
  out << (p.workloads.empty() ? "]\n  }" : "\n    ]\n  }");
  return out.str();
}

// A request's tokens as asked for and as moved: a scaled-down request moves whole blocks.
std::string tokens_label(const KvRequestTiming& t) {
  std::string out = std::to_string(t.context_tokens) + " tokens";
  if (t.blocks == 0) return out;
  out += " requested, " + std::to_string(t.tokens_moved()) + " moved (" + std::to_string(t.blocks) +
         (t.blocks == 1 ? " block" : " blocks") + " of " + std::to_string(t.block_tokens) + ")";
  return out;
}

}  // namespace

uint64_t WorkloadReport::percentile_ns(double p) const {
  if (latencies_ns.empty()) return 0;
  std::vector<uint64_t> sorted = latencies_ns;
  std::sort(sorted.begin(), sorted.end());
  const size_t index = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  return sorted[std::clamp<size_t>(index, 1, sorted.size()) - 1];
}

double WorkloadReport::throughput_gbps() const {
  return simulated_ns == 0 ? 0 : static_cast<double>(bytes) * 8 / static_cast<double>(simulated_ns);
}

bool ReplayReport::ok() const {
  if (!errors.empty()) return false;
  return std::all_of(workloads.begin(), workloads.end(), [](const WorkloadReport& w) { return w.completed; });
}

std::string format_kv_requests(const WorkloadReport& w) {
  if (w.requests.empty()) return "";
  std::ostringstream out;
  char line[256];
  if (w.requests.size() <= kKvRequestsListed) {
    for (const KvRequestTiming& t : w.requests) {
      std::snprintf(line, sizeof line,
                    "  request %llu: %s, %llu B of KV cache, KV transfer %.1f us of TTFT "
                    "(after %.1f us waiting for the one before)\n",
                    static_cast<unsigned long long>(t.request), tokens_label(t).c_str(),
                    static_cast<unsigned long long>(t.bytes), t.kv_ns / 1e3, (t.start_ns - t.arrival_ns) / 1e3);
      out << line;
    }
    return out.str();
  }
  WorkloadReport kv;
  for (const KvRequestTiming& t : w.requests) kv.latencies_ns.push_back(t.kv_ns);
  std::snprintf(line, sizeof line,
                "  KV transfer's share of TTFT over %zu requests: p50 %.1f us, p99 %.1f us, max %.1f us "
                "(every request in report.json)\n",
                w.requests.size(), kv.percentile_ns(50) / 1e3, kv.percentile_ns(99) / 1e3, kv.percentile_ns(100) / 1e3);
  return line;
}

std::string format_table(const ReplayReport& r) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line, "%-12s %-11s %6s %12s %10s %10s %10s %10s %12s %9s  %s\n", "workload", "kind", "ops",
                "bytes", "p50 us", "p99 us", "max us", "Gb/s", "sim ms", "wall s", "status");
  out << line;
  for (const WorkloadReport& w : r.workloads) {
    std::snprintf(line, sizeof line, "%-12s %-11s %6llu %12llu %10.1f %10.1f %10.1f %10.2f %12.3f %9.2f  %s\n",
                  w.name.c_str(), w.kind.c_str(), static_cast<unsigned long long>(w.operations),
                  static_cast<unsigned long long>(w.bytes), w.percentile_ns(50) / 1e3, w.percentile_ns(99) / 1e3,
                  w.percentile_ns(100) / 1e3, w.throughput_gbps(), w.simulated_ns / 1e6, w.wall_s,
                  w.completed ? "ok" : ("FAILED (" + std::to_string(w.errors.size()) + " errors)").c_str());
    out << line;
    if (!w.note.empty()) out << "  note: " << w.note << "\n";
    out << format_kv_requests(w);
  }
  return out.str();
}

std::string to_json(const ReplayReport& r, bool with_wall_time) {
  std::ostringstream out;
  out << "{\n";
  out << "  \"scenario\": " << json_string(r.scenario) << ",\n";
  out << "  \"provider\": " << json_string(r.provider) << ",\n";
  out << "  \"mode\": " << json_string(r.mode) << ",\n";
  out << "  \"seed\": " << r.seed << ",\n";
  out << "  \"ranks\": " << r.ranks << ",\n";
  if (r.spread) {
    out << "  \"node\": " << r.node << ",\n";
    out << "  \"nodes\": " << r.nodes << ",\n";
    out << "  \"local_ranks\": [" << r.first_rank << ", " << r.end_rank << "],\n";
    out << "  \"peers\": [";
    for (size_t i = 0; i < r.peers.size(); ++i) out << (i ? ", " : "") << json_string(r.peers[i]);
    out << "],\n";
  }
  out << "  \"ok\": " << (r.ok() ? "true" : "false") << ",\n";
  out << "  \"faults_applied\": " << r.faults_applied << ",\n";
  out << "  \"trace_hash\": \"" << std::hex << r.trace_hash << std::dec << "\",\n";
  out << "  \"simulated_ns\": " << r.simulated_ns << ",\n";
  if (with_wall_time) out << "  \"wall_s\": " << fixed(r.wall_s, 3) << ",\n";
  out << "  \"virtual_time\": " << (r.virtual_time ? "true" : "false") << ",\n";
  out << "  \"gpus_per_node\": " << r.gpus_per_node << ",\n";
  out << "  \"notes\": [";
  for (size_t i = 0; i < r.notes.size(); ++i) out << (i ? ", " : "") << json_string(r.notes[i]);
  out << "],\n";
  out << "  \"timing_model\": " << json_string(r.timing_model) << ",\n";
  out << "  \"scenario_parameters\": " << json_parameters(r.parameters) << ",\n";
  // Each fault as applied, at its time since the replay's start.
  out << "  \"faults\": [";
  for (size_t i = 0; i < r.faults.size(); ++i) {
    const AppliedFault& f = r.faults[i];
    out << (i ? ",\n    " : "\n    ") << "{\"at_ns\": " << f.at_ns << ", \"kind\": " << json_string(f.kind)
        << ", \"target\": " << json_string(f.target) << ", \"detail\": " << json_string(f.detail) << "}";
  }
  out << (r.faults.empty() ? "],\n" : "\n  ],\n");
  // null where the provider does not count it, with the reason.
  out << "  \"fabric_counters\": [";
  for (size_t i = 0; i < r.counters.size(); ++i) {
    const FabricCounter& c = r.counters[i];
    out << (i ? ",\n    " : "\n    ") << "{\"name\": " << json_string(c.name) << ", \"value\": "
        << (c.value ? std::to_string(*c.value) : "null") << ", \"unit\": " << json_string(c.unit);
    if (!c.value) out << ", \"not_counted\": " << json_string(c.missing);
    out << "}";
  }
  out << (r.counters.empty() ? "],\n" : "\n  ],\n");
  out << "  \"interval_ns\": " << r.interval_ns << ",\n";
  // Bytes each NIC sent and received per interval, and its line rate: one line per NIC.
  out << "  \"nics\": [";
  const auto list = [&out](const std::vector<uint64_t>& v) {
    for (size_t k = 0; k < v.size(); ++k) out << (k ? "," : "") << v[k];
  };
  for (size_t i = 0; i < r.nics.size(); ++i) {
    out << (i ? ",\n    " : "\n    ") << "{\"name\": " << json_string(r.nics[i].name)
        << ", \"gbps\": " << r.nics[i].gbps << ", \"bytes\": [";
    list(r.nics[i].bytes);
    out << "], \"rx_bytes\": [";
    list(r.nics[i].rx_bytes);
    out << "]}";
  }
  out << (r.nics.empty() ? "],\n" : "\n  ],\n");
  out << "  \"errors\": [";
  for (size_t i = 0; i < r.errors.size(); ++i) out << (i ? ", " : "") << json_string(r.errors[i]);
  out << "],\n  \"workloads\": [\n";
  for (size_t i = 0; i < r.workloads.size(); ++i) {
    const WorkloadReport& w = r.workloads[i];
    out << "    {\n";
    out << "      \"name\": " << json_string(w.name) << ",\n";
    out << "      \"kind\": " << json_string(w.kind) << ",\n";
    out << "      \"completed\": " << (w.completed ? "true" : "false") << ",\n";
    out << "      \"operations\": " << w.operations << ",\n";
    out << "      \"planned\": " << w.planned << ",\n";
    out << "      \"bytes\": " << w.bytes << ",\n";
    out << "      \"latency_p50_ns\": " << w.percentile_ns(50) << ",\n";
    out << "      \"latency_p99_ns\": " << w.percentile_ns(99) << ",\n";
    out << "      \"latency_max_ns\": " << w.percentile_ns(100) << ",\n";
    out << "      \"throughput_gbps\": " << fixed(w.throughput_gbps(), 3) << ",\n";
    out << "      \"simulated_ns\": " << w.simulated_ns << ",\n";
    if (with_wall_time) out << "      \"wall_s\": " << fixed(w.wall_s, 3) << ",\n";
    out << "      \"verify_failures\": " << w.verify_failures << ",\n";
    if (!w.note.empty()) out << "      \"note\": " << json_string(w.note) << ",\n";
    out << "      \"start_ns\": " << w.start_ns << ",\n";
    if (w.lists_requests) {
      // One line per request: compact, and still every request.
      out << "      \"requests\": [";
      for (size_t q = 0; q < w.requests.size(); ++q) {
        const KvRequestTiming& t = w.requests[q];
        out << (q ? ",\n        " : "\n        ") << "{\"request\": " << t.request
            << ", \"context_tokens\": " << t.context_tokens << ", \"bytes\": " << t.bytes
            << ", \"arrival_ns\": " << t.arrival_ns << ", \"start_ns\": " << t.start_ns
            << ", \"kv_ns\": " << t.kv_ns << ", \"kv_blocks\": " << t.blocks
            << ", \"tokens_moved\": " << t.tokens_moved() << "}";
      }
      out << (w.requests.empty() ? "],\n" : "\n      ],\n");
    }
    out << "      \"errors\": [";
    for (size_t e = 0; e < w.errors.size(); ++e) out << (e ? ", " : "") << json_string(w.errors[e]);
    out << "]\n    }" << (i + 1 < r.workloads.size() ? "," : "") << "\n";
  }
  out << "  ]\n}\n";
  return out.str();
}

}  // namespace ferry::replay
