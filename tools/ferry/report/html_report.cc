#include "tools/ferry/report/html_report.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <optional>

#include "tools/ferry/report/html_escape.h"
#include "tools/ferry/report/svg_chart.h"

namespace ferry::report {
namespace {

using replay::AppliedFault;
using replay::FabricCounter;
using replay::KvRequestTiming;
using replay::NicTimeline;
using replay::ReplayReport;
using replay::ScenarioParameter;
using replay::ScenarioParameters;
using replay::WorkloadReport;

// Beyond these, series are downsampled: a chart is 500 to 1,000 units wide, so more points
// add bytes, not detail.
constexpr size_t kMaxPointsPerSeries = 1000;
constexpr size_t kMinPointsPerSeries = 60;
constexpr size_t kThroughputPointBudget = 24'000;  // all NICs together
constexpr size_t kMaxKvPoints = 2000;

// ---- numbers ------------------------------------------------------------------------

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) v = 0;
  char buf[64];
  if (std::fabs(v) >= 1e15)
    std::snprintf(buf, sizeof buf, "%.3g", v);  // no 300-digit figures
  else
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string grouped(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

struct TimeUnit {
  double ns;  // nanoseconds in one unit
  const char* name;
};

// The unit that keeps a time axis's numbers between 1 and 1000 or so.
TimeUnit time_unit_for(double max_ns) {
  if (max_ns >= 1e9) return {1e9, "s"};
  if (max_ns >= 1e6) return {1e6, "ms"};
  if (max_ns >= 1e3) return {1e3, "\xC2\xB5s"};  // µs
  return {1, "ns"};
}

std::string duration(double ns) {
  const TimeUnit unit = time_unit_for(ns);
  return fixed(ns / unit.ns, unit.ns == 1 ? 0 : 2) + " " + unit.name;
}

std::string byte_size(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 6) bytes /= 1024, ++unit;
  return fixed(bytes, unit == 0 ? 0 : 1) + " " + kUnits[unit];
}

// ---- throughput over time per NIC ---------------------------------------------------

struct ChartWithNote {
  Chart chart;
  std::string note;  // plain text under the chart (downsampling, what a point is)
};

// Workload spans as bands, where the workloads ran one after another (start_ns filled).
std::vector<ChartBand> workload_bands(const ReplayReport& r, double unit_ns) {
  std::vector<ChartBand> bands;
  uint64_t end = 0;
  for (const WorkloadReport& w : r.workloads) {
    if (w.start_ns < end) return {};  // overlapping: the start times are not known
    const uint64_t finish = w.start_ns + std::min(w.simulated_ns, UINT64_MAX - w.start_ns);
    bands.push_back(ChartBand{w.start_ns / unit_ns, finish / unit_ns, w.name + " (" + w.kind + ")"});
    end = std::max(end, finish);
  }
  if (end == 0) return {};
  return bands;
}

// Which way the bytes went: what the NICs put on the wire, or took off it.
enum class Direction { kSent, kReceived };

const std::vector<uint64_t>& bytes_of(const NicTimeline& nic, Direction d) {
  return d == Direction::kSent ? nic.bytes : nic.rx_bytes;
}

// A dashed line at each distinct NIC line rate.
std::vector<ChartLevel> line_rate_levels(const ReplayReport& r) {
  std::vector<double> rates;
  for (const NicTimeline& nic : r.nics) {
    if (nic.gbps > 0 && std::isfinite(nic.gbps)) rates.push_back(nic.gbps);
  }
  std::sort(rates.begin(), rates.end());
  rates.erase(std::unique(rates.begin(), rates.end()), rates.end());
  std::vector<ChartLevel> levels;
  for (double rate : rates) levels.push_back({rate, fixed(rate, rate == std::floor(rate) ? 0 : 1) + " Gb/s line rate", "#4a5568"});
  return levels;
}

// A vertical line at each fault the fabric applied.
std::vector<ChartMarker> fault_markers(const ReplayReport& r, double unit_ns) {
  std::vector<ChartMarker> markers;
  for (const AppliedFault& f : r.faults) {
    markers.push_back({static_cast<double>(f.at_ns) / unit_ns, f.kind + " " + f.target, "#c53030"});
  }
  return markers;
}

std::optional<ChartWithNote> throughput_chart(const ReplayReport& r, Direction direction) {
  size_t longest = 0;
  for (const NicTimeline& nic : r.nics) longest = std::max(longest, bytes_of(nic, direction).size());
  if (r.interval_ns == 0 || longest == 0) return std::nullopt;

  const bool sent = direction == Direction::kSent;
  const double interval = static_cast<double>(r.interval_ns);
  const TimeUnit unit = time_unit_for(interval * static_cast<double>(longest));
  const size_t per_series =
      std::clamp(kThroughputPointBudget / std::max<size_t>(r.nics.size(), 1), kMinPointsPerSeries, kMaxPointsPerSeries);
  // Intervals averaged into one point: the same for every NIC, so that points line up.
  const size_t group = (longest + per_series - 1) / per_series;

  ChartWithNote out;
  Chart& chart = out.chart;
  chart.id = sent ? "throughput" : "throughput-rx";
  chart.title = sent ? "Throughput sent per NIC over time" : "Throughput received per NIC over time";
  chart.width = 1100;
  chart.height = 360;
  chart.x = {std::string(r.virtual_time ? "virtual time (" : "wall-clock time (") + unit.name + ")",
             interval * static_cast<double>(longest) / unit.ns};
  chart.y.label = sent ? "sent (Gb/s)" : "received (Gb/s)";
  for (size_t n = 0; n < r.nics.size(); ++n) {
    const NicTimeline& nic = r.nics[n];
    const std::vector<uint64_t>& nic_bytes = bytes_of(nic, direction);
    ChartSeries series{nic.name + (sent ? " tx" : " rx"), series_color(n), series_dash(n), {}, true};
    for (size_t first = 0; first < nic_bytes.size(); first += group) {
      const size_t count = std::min(group, nic_bytes.size() - first);
      double bytes = 0;
      for (size_t i = first; i < first + count; ++i) bytes += static_cast<double>(nic_bytes[i]);
      const double gbps = bytes * 8 / (interval * static_cast<double>(count));  // bits per ns
      const double start_ns = interval * static_cast<double>(first);
      const double mid_ns = start_ns + interval * static_cast<double>(count) / 2;
      series.points.push_back({mid_ns / unit.ns, gbps,
                               nic.name + (sent ? " sent " : " received ") + fixed(gbps, 2) + " Gb/s from " +
                                   duration(start_ns) + " for " + duration(interval * static_cast<double>(count))});
      chart.y.max = std::max(chart.y.max, gbps);
    }
    chart.series.push_back(std::move(series));
  }
  chart.levels = line_rate_levels(r);
  for (const ChartLevel& level : chart.levels) chart.y.max = std::max(chart.y.max, level.y);
  chart.y.max *= 1.1;  // headroom for the workload labels at the top
  chart.bands = workload_bands(r, unit.ns);
  chart.markers = fault_markers(r, unit.ns);
  out.note = std::string("Bytes each NIC ") + (sent ? "put on" : "took off") + " the wire per interval of " +
             duration(interval) + (r.virtual_time ? " of virtual time" : " of wall-clock time");
  if (group > 1) out.note += ", averaged over " + std::to_string(group) + " intervals per point";
  out.note += ".";
  if (!chart.levels.empty()) out.note += " Dashed horizontal lines: the NICs' line rates.";
  if (!chart.bands.empty()) out.note += " Shaded: the span of each workload.";
  if (!chart.markers.empty()) out.note += " Red vertical lines: faults applied.";
  return out;
}

// ---- latency distribution per workload ----------------------------------------------

// How the report's times were measured, for axis labels.
const char* clock_name(const ReplayReport& r) { return r.virtual_time ? "virtual" : "wall clock"; }

Chart latency_chart(const ReplayReport& r, const WorkloadReport& w, size_t index) {
  std::vector<uint64_t> sorted = w.latencies_ns;
  std::sort(sorted.begin(), sorted.end());
  const TimeUnit unit = time_unit_for(static_cast<double>(sorted.back()));
  const size_t n = sorted.size();
  const size_t points = std::min(n, kMaxPointsPerSeries);

  Chart chart;
  chart.id = "latency-" + std::to_string(index);
  chart.title = "Latency distribution of " + w.name;
  chart.width = 560;
  chart.height = 280;
  chart.x = {std::string("latency per operation (") + unit.name + ", " + clock_name(r) + ")",
             static_cast<double>(sorted.back()) / unit.ns};
  chart.y = {"fraction of operations at or below", 1};
  ChartSeries cdf{w.name, series_color(0), "", {}, true};
  cdf.points.push_back({static_cast<double>(sorted.front()) / unit.ns, 0, ""});
  // Evenly spaced ranks, always the first and the last.
  for (size_t j = 0; j < points; ++j) {
    const size_t i = points == 1 ? n - 1 : j * (n - 1) / (points - 1);
    const double fraction = static_cast<double>(i + 1) / static_cast<double>(n);
    cdf.points.push_back(
        {static_cast<double>(sorted[i]) / unit.ns, fraction,
         duration(static_cast<double>(sorted[i])) + ": " + fixed(fraction * 100, 1) + "% of operations at or below"});
  }
  chart.series.push_back(std::move(cdf));
  const double p50 = static_cast<double>(w.percentile_ns(50)), p99 = static_cast<double>(w.percentile_ns(99));
  chart.markers.push_back({p50 / unit.ns, "p50 " + duration(p50), "#2b6cb0"});
  chart.markers.push_back({p99 / unit.ns, "p99 " + duration(p99), "#c53030"});
  return chart;
}

// ---- pd_disagg: KV transfer time per request ----------------------------------------

// Tokens as asked for and as moved: a scaled-down request moves whole KV blocks, so 3
// tokens can move a 16-token block.
std::string tokens_label(const KvRequestTiming& t) {
  std::string out = grouped(t.context_tokens) + " tokens";
  if (t.blocks == 0) return out;
  return out + " requested, " + grouped(t.tokens_moved()) + " moved (" + grouped(t.blocks) +
         (t.blocks == 1 ? " block" : " blocks") + " of " + grouped(t.block_tokens) + ")";
}

// At most kMaxKvPoints requests: of each run of consecutive requests, the slowest, so
// that outliers stay visible.
std::vector<const KvRequestTiming*> sampled_requests(const std::vector<KvRequestTiming>& requests, size_t* group) {
  *group = (requests.size() + kMaxKvPoints - 1) / kMaxKvPoints;
  std::vector<const KvRequestTiming*> out;
  for (size_t first = 0; first < requests.size(); first += *group) {
    const auto last = requests.begin() + static_cast<std::ptrdiff_t>(std::min(requests.size(), first + *group));
    out.push_back(&*std::max_element(requests.begin() + static_cast<std::ptrdiff_t>(first), last,
                                     [](const auto& a, const auto& b) { return a.kv_ns < b.kv_ns; }));
  }
  return out;
}

std::vector<ChartWithNote> kv_charts(const ReplayReport& r, const WorkloadReport& w, size_t index) {
  size_t group = 1;
  const std::vector<const KvRequestTiming*> requests = sampled_requests(w.requests, &group);
  uint64_t max_kv = 0, max_request = 0, max_tokens = 0;
  for (const KvRequestTiming* t : requests) {
    max_kv = std::max(max_kv, t->kv_ns);
    max_request = std::max(max_request, t->request);
    max_tokens = std::max(max_tokens, t->context_tokens);
  }
  const TimeUnit unit = time_unit_for(static_cast<double>(max_kv));
  const std::string y_label = std::string("KV transfer time (") + unit.name + ", " + clock_name(r) + ")";

  auto chart = [&](const std::string& id, const std::string& title, const std::string& x_label, double x_max,
                   auto x_of) {
    ChartWithNote out;
    out.chart.id = id + "-" + std::to_string(index);
    out.chart.title = title + " in " + w.name;
    out.chart.width = 560;
    out.chart.height = 280;
    out.chart.x = {x_label, x_max};
    out.chart.y = {y_label, static_cast<double>(max_kv) / unit.ns};
    ChartSeries series{w.name, series_color(1), "", {}, false};
    for (const KvRequestTiming* t : requests) {
      series.points.push_back({x_of(*t), static_cast<double>(t->kv_ns) / unit.ns,
                               "request " + std::to_string(t->request) + ": " + tokens_label(*t) + ", " +
                                   byte_size(static_cast<double>(t->bytes)) + " in " +
                                   duration(static_cast<double>(t->kv_ns)) + ", started at " +
                                   duration(static_cast<double>(t->start_ns))});
    }
    out.chart.series.push_back(std::move(series));
    if (group > 1) out.note = "One dot per " + std::to_string(group) + " consecutive requests: the slowest of them.";
    return out;
  };
  std::vector<ChartWithNote> out;
  out.push_back(chart("kv-requests", "KV transfer time per request", "request", static_cast<double>(max_request),
                      [](const KvRequestTiming& t) { return static_cast<double>(t.request); }));
  out.push_back(chart("kv-tokens", "KV transfer time against context length", "context tokens requested",
                      static_cast<double>(max_tokens),
                      [](const KvRequestTiming& t) { return static_cast<double>(t.context_tokens); }));
  return out;
}

// ---- the page -----------------------------------------------------------------------

const char kStyle[] = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;background:#fff}
body{margin:24px auto;max-width:1200px;padding:0 16px}
h1{font-size:1.5em;margin:0 0 8px}
h2{font-size:1.2em;margin:28px 0 8px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}
h3{font-size:1em;margin:16px 0 4px}
.status{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:600;color:#fff}
.ok{background:#2f855a}
.failed{background:#c53030}
dl.run{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:8px 0}
dl.run dt{color:#4a5568}
dl.run dd{margin:0}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border-bottom:1px solid #e2e8f0;text-align:right}
th{white-space:nowrap}
th:nth-child(-n+2),td:nth-child(-n+2),th:last-child,td:last-child{text-align:left}
td.bad{color:#c53030;font-weight:600}
.wide{overflow-x:auto}
td:nth-child(n+3):not(:last-child){white-space:nowrap}
ul.errors li{color:#c53030}
.note{color:#4a5568;font-size:.9em;margin:4px 0}
.grid2{display:flex;flex-wrap:wrap;gap:8px 24px}
figure{margin:0}
svg.chart{max-width:100%;height:auto;font-size:11px;font-family:inherit}
svg.chart .plot{fill:#fbfcfd;stroke:#cbd5e0}
svg.chart .grid{stroke:#e2e8f0}
svg.chart text{fill:#2d3748}
svg.chart .axis-label{font-size:12px}
svg.chart .series polyline{stroke-width:1.5}
svg.chart .series circle{fill-opacity:.8;stroke:none}
svg.chart .band rect{stroke:none}
svg.chart .band0 rect{fill:#ebf4ff}
svg.chart .band1 rect{fill:#f0fff4}
svg.chart .band text{fill:#4a5568;font-size:10px}
svg.chart .marker line{stroke-dasharray:4 3}
svg.chart .level line{stroke-dasharray:8 4}
td.missing{color:#718096;font-style:italic}
ul.legend{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:.9em}
ul.legend .swatch{display:inline-block;width:24px;height:0;border-top-width:3px;vertical-align:middle;margin-right:6px}
)";

// Checks that the charts laid out, then marks the page rendered; a failure shows in the
// mark. The page is complete without it.
const char kScript[] = R"(
(function () {
  var problems = [];
  var charts = document.querySelectorAll('svg.chart');
  var expected = Number(document.body.getAttribute('data-charts'));
  if (charts.length !== expected) problems.push(charts.length + ' charts, expected ' + expected);
  charts.forEach(function (svg) {
    var box = svg.getBoundingClientRect();
    if (!(box.width > 0 && box.height > 0)) problems.push(svg.id + ' has no size');
    svg.querySelectorAll('polyline').forEach(function (line) {
      if (line.points.numberOfItems < 2) problems.push(svg.id + ' has an empty line');
    });
  });
  document.body.setAttribute('data-rendered',
      problems.length ? 'failed: ' + problems.join('; ') : 'ok ' + charts.length + ' charts');
})();
)";

std::string status_badge(bool ok) {
  return ok ? "<span class=\"status ok\">ok</span>" : "<span class=\"status failed\">FAILED</span>";
}

void append_run_header(std::string& out, const ReplayReport& r) {
  out += "<header><h1>ferry replay: " + escape_html(r.scenario) + " " + status_badge(r.ok()) + "</h1>";
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016" PRIx64, r.trace_hash);
  size_t errors = r.errors.size();
  for (const WorkloadReport& w : r.workloads) errors += w.errors.size();
  const std::pair<const char*, std::string> facts[] = {
      {"scenario", escape_html(r.scenario)},
      {"provider", escape_html(r.provider)},
      {"mode", escape_html(r.mode)},
      {"seed", std::to_string(r.seed)},
      {"ranks", std::to_string(r.ranks) + " (" + std::to_string(r.gpus_per_node) + " GPUs per node)"},
      {"result", r.ok() ? "ok: every workload completed and verified" : "FAILED"},
      {"errors", std::to_string(errors)},
      {"faults applied", std::to_string(r.faults_applied)},
      {r.virtual_time ? "simulated time" : "run time (wall clock)", duration(static_cast<double>(r.simulated_ns))},
      {"wall time", fixed(r.wall_s, 2) + " s"},
      {"trace hash", hash},
  };
  out += "<dl class=\"run\">";
  for (const auto& [term, value] : facts) out += std::string("<dt>") + term + "</dt><dd>" + value + "</dd>";
  out += "</dl>";
  out += "<p class=\"note timing-model\"><strong>Timing model:</strong> " +
         escape_html(r.timing_model.empty() ? "not known for this report." : r.timing_model) + "</p>";
  if (!r.notes.empty()) {
    out += "<h3>Notes</h3><ul class=\"notes\">";
    for (const std::string& note : r.notes) out += "<li>" + escape_html(note) + "</li>";
    out += "</ul>";
  }
  if (!r.errors.empty()) {
    out += "<h3>Errors</h3><ul class=\"errors\">";
    for (const std::string& e : r.errors) out += "<li>" + escape_html(e) + "</li>";
    out += "</ul>";
  }
  out += "</header>";
}

// The columns of replay::format_table.
void append_summary(std::string& out, const ReplayReport& r) {
  out += "<section id=\"summary\"><h2>Summary</h2>";
  if (r.workloads.empty()) {
    out += "<p class=\"note\">No workloads ran.</p></section>";
    return;
  }
  out +=
      "<div class=\"wide\"><table><thead><tr><th>workload</th><th>kind</th><th>ops</th><th>bytes</th><th>p50 "
      "\xC2\xB5s</th>"
      "<th>p99 \xC2\xB5s</th><th>max \xC2\xB5s</th><th>Gb/s</th><th>sim ms</th><th>wall s</th><th>status</th>"
      "</tr></thead><tbody>";
  for (const WorkloadReport& w : r.workloads) {
    std::string status = w.completed ? "ok" : "FAILED (" + std::to_string(w.errors.size()) + " errors)";
    if (w.verify_failures) status += ", " + grouped(w.verify_failures) + " verify failures";
    out += "<tr><td>" + escape_html(w.name) + "</td><td>" + escape_html(w.kind) + "</td><td>" + grouped(w.operations) +
           (w.planned != w.operations ? " of " + grouped(w.planned) : "") + "</td><td>" + grouped(w.bytes) +
           "</td><td>" + fixed(w.percentile_ns(50) / 1e3, 1) + "</td><td>" + fixed(w.percentile_ns(99) / 1e3, 1) +
           "</td><td>" + fixed(w.percentile_ns(100) / 1e3, 1) + "</td><td>" + fixed(w.throughput_gbps(), 2) +
           "</td><td>" + fixed(w.simulated_ns / 1e6, 3) + "</td><td>" + fixed(w.wall_s, 2) + "</td><td" +
           (w.completed ? ">" : " class=\"bad\">") + status + "</td></tr>";
  }
  out += "</tbody></table></div>";
  for (const WorkloadReport& w : r.workloads) {
    if (!w.note.empty()) out += "<p class=\"note\">" + escape_html(w.name) + ": " + escape_html(w.note) + "</p>";
    if (!w.errors.empty()) {
      out += "<h3>Errors in " + escape_html(w.name) + "</h3><ul class=\"errors\">";
      for (const std::string& e : w.errors) out += "<li>" + escape_html(e) + "</li>";
      out += "</ul>";
    }
  }
  out += "</section>";
}

void append_key_values(std::string& out, const std::vector<ScenarioParameter>& keys) {
  out += "<dl class=\"run\">";
  for (const ScenarioParameter& p : keys) out += "<dt>" + escape_html(p.key) + "</dt><dd>" + escape_html(p.value) + "</dd>";
  out += "</dl>";
}

// The scenario as it ran: model, cluster, fabric and each workload's keys.
void append_parameters(std::string& out, const ReplayReport& r) {
  const ScenarioParameters& p = r.parameters;
  out += "<section id=\"parameters\"><h2>Scenario parameters</h2>";
  if (p.model.empty() && p.cluster.empty() && p.workloads.empty()) {
    out += "<p class=\"note\">The report does not carry the scenario's parameters.</p></section>";
    return;
  }
  out += "<p class=\"note\">Keys as in the scenario file, with defaults filled in and the scale (" +
         escape_html(fixed(p.scale, p.scale == std::floor(p.scale) ? 0 : 4)) + ") applied.</p><div class=\"grid2\">";
  out += "<div><h3>Model</h3>";
  append_key_values(out, p.model);
  out += "</div><div><h3>Cluster</h3>";
  append_key_values(out, p.cluster);
  out += "</div><div><h3>Fabric (" + escape_html(p.fabric_provider) + ")</h3>";
  if (p.fabric.empty()) out += "<p class=\"note\">No keys.</p>";
  append_key_values(out, p.fabric);
  out += "</div></div>";
  if (p.fabric_provider != r.provider) {
    out += "<p class=\"note\">The scenario's fabric section is for " + escape_html(p.fabric_provider) +
           "; this replay ran on " + escape_html(r.provider) + " with that provider's defaults.</p>";
  }
  out += "<h3>Workloads</h3><div class=\"grid2\">";
  for (const ScenarioParameters::Workload& w : p.workloads) {
    out += "<div class=\"workload-keys\"><h3>" + escape_html(w.name) + " (" + escape_html(w.kind) + ")</h3>";
    append_key_values(out, w.keys);
    out += "</div>";
  }
  out += "</div></section>";
}

void append_faults(std::string& out, const ReplayReport& r) {
  out += "<section id=\"faults\"><h2>Faults applied</h2>";
  if (r.faults.empty()) {
    out += "<p class=\"note\">No faults were applied.</p></section>";
    return;
  }
  out += "<table><thead><tr><th>time</th><th>kind</th><th>target</th><th>detail</th></tr></thead><tbody>";
  for (const AppliedFault& f : r.faults) {
    out += "<tr><td>" + duration(static_cast<double>(f.at_ns)) + "</td><td>" + escape_html(f.kind) + "</td><td>" +
           escape_html(f.target) + "</td><td>" + escape_html(f.detail) + "</td></tr>";
  }
  out += "</tbody></table></section>";
}

std::string counter_value(const FabricCounter& c) {
  if (!c.value) return "<td class=\"missing\">" + escape_html(c.missing.empty() ? "not modelled" : c.missing) + "</td>";
  if (c.unit == "ns") return "<td>" + duration(static_cast<double>(*c.value)) + "</td>";
  if (c.unit == "B") return "<td>" + byte_size(static_cast<double>(*c.value)) + "</td>";
  return "<td>" + grouped(*c.value) + (c.unit.empty() ? "" : " " + escape_html(c.unit)) + "</td>";
}

void append_counters(std::string& out, const ReplayReport& r) {
  out += "<section id=\"counters\"><h2>Fabric counters</h2>";
  if (r.counters.empty()) {
    out += "<p class=\"note\">The report does not carry the fabric's counters.</p></section>";
    return;
  }
  out += "<p class=\"note\">Over the whole replay, every NIC and switch. A counter the provider does not keep "
         "says why instead of showing 0.</p><table class=\"counters\"><thead><tr><th>counter</th><th>value</th>"
         "</tr></thead><tbody>";
  for (const FabricCounter& c : r.counters) out += "<tr><td>" + escape_html(c.name) + "</td>" + counter_value(c) + "</tr>";
  out += "</tbody></table></section>";
}

void append_legend(std::string& out, const Chart& chart) {
  out += "<ul class=\"legend\">";
  for (const ChartSeries& s : chart.series) {
    out += "<li><span class=\"swatch\" style=\"border-top-style:" + std::string(s.dash.empty() ? "solid" : "dashed") +
           ";border-top-color:" + s.color + "\"></span>" + escape_html(s.label) + "</li>";
  }
  for (const ChartLevel& level : chart.levels) {
    out += "<li><span class=\"swatch\" style=\"border-top-style:dashed;border-top-color:" + level.color + "\"></span>" +
           escape_html(level.label) + "</li>";
  }
  out += "</ul>";
}

void append_figure(std::string& out, const ChartWithNote& c, size_t* charts) {
  out += "<figure>" + render_svg(c.chart);
  if (!c.note.empty()) out += "<figcaption class=\"note\">" + escape_html(c.note) + "</figcaption>";
  out += "</figure>";
  ++*charts;
}

}  // namespace

std::string to_html(const ReplayReport& r) {
  std::string body;
  size_t charts = 0;
  append_run_header(body, r);
  append_summary(body, r);

  append_parameters(body, r);

  body += "<section id=\"throughput\"><h2>Throughput over time per NIC</h2><h3>Sent (tx)</h3>";
  if (const std::optional<ChartWithNote> chart = throughput_chart(r, Direction::kSent)) {
    append_legend(body, chart->chart);
    append_figure(body, *chart, &charts);
  } else {
    body += "<p class=\"note\">No NIC timelines in this report.</p>";
  }
  body += "<h3>Received (rx)</h3>";
  if (!r.virtual_time) {
    body += "<p class=\"note\">Not recorded: on a wall-clock fabric the timelines count what the engines sent.</p>";
  } else if (const std::optional<ChartWithNote> chart = throughput_chart(r, Direction::kReceived)) {
    append_legend(body, chart->chart);
    append_figure(body, *chart, &charts);
  } else {
    body += "<p class=\"note\">No receive timelines in this report.</p>";
  }
  body += "</section>";
  append_faults(body, r);
  append_counters(body, r);

  body += "<section id=\"latency\"><h2>Latency distribution per workload</h2>";
  body += std::string("<p class=\"note\">Cumulative distribution of the ") + clock_name(r) +
          " latency of each operation; dashed lines mark p50 and p99.</p><div class=\"grid2\">";
  bool any_latency = false;
  for (size_t i = 0; i < r.workloads.size(); ++i) {
    const WorkloadReport& w = r.workloads[i];
    if (w.latencies_ns.empty()) continue;
    any_latency = true;
    body += "<div><h3>" + escape_html(w.name) + " (" + escape_html(w.kind) + ", " + grouped(w.latencies_ns.size()) +
            " operations)</h3>";
    append_figure(body, {latency_chart(r, w, i), ""}, &charts);
    body += "</div>";
  }
  body += "</div>";
  if (!any_latency) body += "<p class=\"note\">No completed operations to show.</p>";
  body += "</section>";

  bool any_pd = false;
  for (size_t i = 0; i < r.workloads.size(); ++i) {
    const WorkloadReport& w = r.workloads[i];
    if (w.kind != "pd_disagg") continue;
    if (!any_pd) {
      body +=
          "<section id=\"kv\"><h2>KV-cache transfer per request (pd_disagg)</h2><p class=\"note\">From the end "
          "of prefill until the last byte landed on every decode rank: the KV transfer's share of "
          "time-to-first-token.</p>";
      any_pd = true;
    }
    body += "<h3>" + escape_html(w.name) + " (" + grouped(w.requests.size()) + " requests)</h3>";
    if (w.requests.empty()) {
      body += "<p class=\"note\">No completed requests to show.</p>";
      continue;
    }
    body += "<div class=\"grid2\">";
    for (const ChartWithNote& c : kv_charts(r, w, i)) append_figure(body, c, &charts);
    body += "</div>";
  }
  if (any_pd) body += "</section>";

  std::string out =
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>ferry replay: " +
      escape_html(r.scenario) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body data-charts=\"" +
      std::to_string(charts) + "\">\n" + body +
      "\n<footer class=\"note\"><p>Written by ferry replay. Self-contained: no scripts, fonts or images "
      "are loaded from elsewhere.</p></footer>\n<script>" +
      kScript + "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace ferry::report
