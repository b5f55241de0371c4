#include "tools/ferry/replay/trace_json.h"

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <vector>

namespace ferry::replay {
namespace {

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\', out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

// Microseconds with nanosecond digits.
std::string micros(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llu.%03llu", static_cast<unsigned long long>(ns / 1000),
                static_cast<unsigned long long>(ns % 1000));
  return buf;
}

std::string metadata(const char* what, uint32_t pid, uint32_t tid, const std::string& name) {
  return std::string("{\"name\":\"") + what + "\",\"ph\":\"M\",\"pid\":" + std::to_string(pid) +
         ",\"tid\":" + std::to_string(tid) + ",\"args\":{\"name\":" + quoted(name) + "}}";
}

}  // namespace

std::string to_trace_json(const ReplayReport& r) {
  std::ostringstream out;
  out << "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"scenario\":" << quoted(r.scenario)
      << ",\"provider\":" << quoted(r.provider) << ",\"seed\":" << r.seed
      << ",\"time\":" << quoted(r.virtual_time ? "virtual" : "wall-clock") << ",\"spans\":" << r.spans.size()
      << ",\"spans_dropped\":" << r.spans_dropped << "},\n\"traceEvents\":[\n";
  bool first = true;
  auto event = [&](const std::string& e) {
    out << (first ? "" : ",\n") << e;
    first = false;
  };
  const uint32_t gpus = std::max(1u, r.gpus_per_node);
  for (uint32_t rank = 0; rank < r.ranks; ++rank) {
    event(metadata("process_name", rank, 0,
                   "rank" + std::to_string(rank) + " (node" + std::to_string(rank / gpus) + " gpu" +
                       std::to_string(rank % gpus) + ")"));
    event("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":" + std::to_string(rank) +
          ",\"args\":{\"sort_index\":" + std::to_string(rank) + "}}");
  }
  // Spans by rank and start; each goes to the first thread of its rank that is free by then.
  std::vector<const OperationSpan*> spans;
  for (const OperationSpan& s : r.spans) spans.push_back(&s);
  std::stable_sort(spans.begin(), spans.end(), [](const OperationSpan* a, const OperationSpan* b) {
    return a->rank != b->rank ? a->rank < b->rank : a->start_ns < b->start_ns;
  });
  std::vector<uint64_t> thread_free_at;  // of the current rank
  for (size_t i = 0; i < spans.size(); ++i) {
    const OperationSpan& s = *spans[i];
    if (i == 0 || spans[i - 1]->rank != s.rank) thread_free_at.clear();
    size_t tid = 0;
    while (tid < thread_free_at.size() && thread_free_at[tid] > s.start_ns) ++tid;
    if (tid == thread_free_at.size()) {
      thread_free_at.push_back(0);
      event(metadata("thread_name", s.rank, static_cast<uint32_t>(tid),
                     tid == 0 ? std::string("operations") : "operations (overlapping " + std::to_string(tid + 1) + ")"));
    }
    thread_free_at[tid] = s.end_ns;
    const std::string workload = s.workload < r.workloads.size() ? r.workloads[s.workload].name : "";
    const std::string kind = s.workload < r.workloads.size() ? r.workloads[s.workload].kind : "";
    event("{\"name\":" + quoted(s.name) + ",\"cat\":" + quoted(kind) + ",\"ph\":\"X\",\"pid\":" +
          std::to_string(s.rank) + ",\"tid\":" + std::to_string(tid) + ",\"ts\":" + micros(s.start_ns) +
          ",\"dur\":" + micros(s.end_ns - std::min(s.end_ns, s.start_ns)) + ",\"args\":{\"workload\":" +
          quoted(workload) + "}}");
  }
  // NICs: one counter track each, in Gb/s over each interval.
  const uint32_t nic_pid = r.ranks;
  if (!r.nics.empty() && r.interval_ns > 0) {
    event(metadata("process_name", nic_pid, 0, "NICs (send rate, Gb/s)"));
    event("{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":" + std::to_string(nic_pid) +
          ",\"args\":{\"sort_index\":-1}}");
  }
  for (const NicTimeline& nic : r.nics) {
    if (r.interval_ns == 0) break;
    double last = -1;
    for (size_t i = 0; i <= nic.bytes.size(); ++i) {
      const double gbps = i < nic.bytes.size() ? static_cast<double>(nic.bytes[i]) * 8 / r.interval_ns : 0;
      if (gbps == last) continue;
      last = gbps;
      char value[32];
      std::snprintf(value, sizeof value, "%.3f", gbps);
      event("{\"name\":" + quoted(nic.name) + ",\"ph\":\"C\",\"pid\":" + std::to_string(nic_pid) +
            ",\"ts\":" + micros(i * r.interval_ns) + ",\"args\":{\"Gb/s\":" + value + "}}");
    }
  }
  out << "\n]}\n";
  return out.str();
}

}  // namespace ferry::replay
