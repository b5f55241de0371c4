#include "tools/ferry/report/html_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tools/ferry/report/html_escape.h"
#include "tools/ferry/report/sample_reports.h"
#include "tools/ferry/report/svg_chart.h"

namespace ferry::report {
namespace {

using replay::ReplayReport;

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
constexpr double kInfinity = std::numeric_limits<double>::infinity();

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The part of the page from <svg ... id="ID" to its </svg>.
std::string chart_svg(const std::string& html, const std::string& id) {
  const size_t start = html.find("<svg class=\"chart\" id=\"" + id + "\"");
  if (start == std::string::npos) return "";
  const size_t end = html.find("</svg>", start);
  return end == std::string::npos ? "" : html.substr(start, end + 6 - start);
}

// The part of the page from <section id="ID" to its </section>.
std::string section(const std::string& html, const std::string& id) {
  const size_t start = html.find("<section id=\"" + id + "\"");
  if (start == std::string::npos) return "";
  const size_t end = html.find("</section>", start);
  return end == std::string::npos ? "" : html.substr(start, end + 10 - start);
}

// Checks that every element is closed in order (void elements and "/>" aside), that the
// page has one <html>, <head> and <body>, and that the script and style hold no "</".
// Returns an empty string, or what is wrong.
std::string structure_problem(const std::string& html) {
  static const std::vector<std::string> kVoid = {"meta", "br", "hr", "img", "input", "link", "wbr"};
  if (html.rfind("<!doctype html>\n", 0) != 0) return "no doctype first";
  std::vector<std::string> open;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    const size_t end = html.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    const std::string tag = html.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.rfind("!doctype", 0) == 0) continue;
    if (tag.empty() || !(std::isalpha(static_cast<unsigned char>(tag[0])) || tag[0] == '/'))
      return "stray '<' before '" + tag.substr(0, 20) + "'";
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name)
        return "</" + name + "> closes <" + (open.empty() ? std::string("nothing") : open.back()) + ">";
      open.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
    if (tag.back() == '/' || std::find(kVoid.begin(), kVoid.end(), name) != kVoid.end()) continue;
    open.push_back(name);
    if (name == "script" || name == "style") {  // raw text up to the closing tag
      const size_t close = html.find("</" + name + ">", i);
      if (close == std::string::npos) return "<" + name + "> not closed";
      if (html.substr(i, close - i).find("</") != std::string::npos) return "'</' inside <" + name + ">";
      i = close;
    }
  }
  if (!open.empty()) return "<" + open.back() + "> not closed";
  for (const char* once : {"<html ", "<head>", "<body ", "</body>", "</html>", "<script>", "<style>"})
    if (count(html, once) != 1) return std::string(once) + " appears " + std::to_string(count(html, once)) + " times";
  return "";
}

// Every coordinate and size in the charts is a plain decimal number, and no word of the
// page is "nan" or "inf" (what printf makes of numbers that are not finite).
std::string number_problem(const std::string& html) {
  for (const char* name : {"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height", "points", "viewBox"}) {
    const std::string key = std::string(" ") + name + "=\"";
    for (size_t at = html.find(key); at != std::string::npos; at = html.find(key, at + 1)) {
      const size_t begin = at + key.size(), end = html.find('"', begin);
      const std::string value = html.substr(begin, end - begin);
      if (value.empty() || value.find_first_not_of("0123456789.-, ") != std::string::npos ||
          !std::isdigit(static_cast<unsigned char>(value.back())))
        return key.substr(1) + value.substr(0, 60) + "\"";
    }
  }
  std::string lower = html;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto is_letter = [&](size_t i) {
    return i < lower.size() && std::isalpha(static_cast<unsigned char>(lower[i]));
  };
  for (const std::string word : {"nan", "inf"}) {
    for (size_t at = lower.find(word); at != std::string::npos; at = lower.find(word, at + 1)) {
      const bool starts_word = at == 0 || !is_letter(at - 1);
      const size_t after = at + word.size();
      const bool ends_word = !is_letter(after) || lower.compare(after, 5, "inity") == 0;
      if (starts_word && ends_word) return "'" + html.substr(at == 0 ? 0 : at - 1, word.size() + 8) + "'";
    }
  }
  return "";
}

// Nothing the page could fetch: no attributes or CSS that load resources and, unless
// the report's own text holds one, no URL at all.
std::string resource_problem(const std::string& html, bool text_holds_urls = false) {
  for (const char* bad :
       {"src=\"", "href=\"", "=\"http", "url(", "@import", "<link", "<img", "<iframe", "<object", "<embed", "xlink:"})
    if (html.find(bad) != std::string::npos) return bad;
  if (!text_holds_urls)
    for (const char* bad : {"http://", "https://"})
      if (html.find(bad) != std::string::npos) return bad;
  return "";
}

// Points of each polyline in an svg.
std::vector<size_t> polyline_points(const std::string& svg) {
  std::vector<size_t> out;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) {
    const size_t begin = svg.find("points=\"", at) + 8;
    out.push_back(count(svg.substr(begin, svg.find('"', begin) - begin), ","));
  }
  return out;
}

void expect_sound(const std::string& html, bool text_holds_urls = false) {
  EXPECT_EQ(structure_problem(html), "");
  EXPECT_EQ(number_problem(html), "");
  EXPECT_EQ(resource_problem(html, text_holds_urls), "");
  EXPECT_EQ(count(html, "<svg"), count(html, "</svg>"));
}

int charts_declared(const std::string& html) {
  const size_t at = html.find("data-charts=\"");
  return at == std::string::npos ? -1 : std::stoi(html.substr(at + 13));
}

TEST(HtmlEscape, EscapesMarkupAndReplacesWhatAPageMustNotHold) {
  EXPECT_EQ(escape_html("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(escape_html("tab\tand\nnewline"), "tab\tand\nnewline");
  EXPECT_EQ(escape_html(std::string("nul\0bel\x07", 8)),
            "nul\xEF\xBF\xBD"
            "bel\xEF\xBF\xBD");
  EXPECT_EQ(escape_html("\xC2\xB5s \xE2\x80\xA6 \xF0\x9F\x98\x80"), "\xC2\xB5s \xE2\x80\xA6 \xF0\x9F\x98\x80");
  // a lone continuation byte, a cut sequence, an overlong '<', a surrogate
  EXPECT_EQ(escape_html("\x80"), "\xEF\xBF\xBD");
  EXPECT_EQ(escape_html("\xE2\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(escape_html("\xC0\xBC"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(escape_html("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(SvgChart, AxisTicksAreRoundAndCoverTheData) {
  const AxisTicks t = axis_ticks(437);
  EXPECT_EQ(t.step, 100);
  EXPECT_EQ(t.top, 500);
  EXPECT_EQ(t.count, 5);
  EXPECT_EQ(axis_ticks(1).top, 1);
  EXPECT_EQ(axis_ticks(1).count, 5);
  for (double bad : {0.0, -3.0, kNan, kInfinity}) {
    EXPECT_EQ(axis_ticks(bad).top, 1) << bad;
    EXPECT_EQ(axis_ticks(bad).count, 5) << bad;
  }
  for (double max : {1e-9, 0.003, 7.0, 12'345.0, 1.8e19, 1.5e20}) {
    const AxisTicks ticks = axis_ticks(max);
    EXPECT_GE(ticks.top, max);
    EXPECT_LE(ticks.count, 10);
    EXPECT_GE(ticks.count, 1);
  }
  EXPECT_EQ(format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(format_tick(1200, 200), "1200");
  EXPECT_EQ(format_tick(150'000, 50'000), "150,000");
  EXPECT_EQ(format_tick(1.5e9, 5e8), "1.5e+09");
}

TEST(SvgChart, OneGroupPerSeriesAndNoCoordinatesOutsideTheFrame) {
  Chart chart;
  chart.id = "c";
  chart.x.max = 10;
  chart.y.max = 1;
  for (int s = 0; s < 3; ++s) {
    ChartSeries series{"s" + std::to_string(s), series_color(s), series_dash(s), {}, true};
    for (int i = 0; i <= 100; ++i) series.points.push_back({i / 10.0, (i % 7) / 7.0 + s, ""});
    chart.series.push_back(series);
  }
  chart.series[0].points.push_back({kNan, kInfinity, ""});  // never drawn as nan
  const std::string svg = render_svg(chart);
  EXPECT_EQ(count(svg, "<g class=\"series\""), 3u);
  EXPECT_EQ(count(svg, "<polyline"), 3u);
  EXPECT_EQ(count(svg, "<circle"), 0u);  // more than kDotsUpTo points: lines only
  EXPECT_EQ(number_problem(svg), "");
}

TEST(HtmlReport, SampleHasEveryPartAndEveryChart) {
  const ReplayReport r = sample_report();
  const std::string html = to_html(r);
  expect_sound(html);
  // header and summary table
  for (const char* text :
       {"llama3-70b sample", "deterministic", "<dt>seed</dt><dd>7</dd>", "<dt>ranks</dt><dd>16 (8 GPUs per node)</dd>",
        "128 of the 448 all-reduces the scenario implies", "FAILED", "fault at 2.1 ms: node 1 lost",
        "stopped after a node loss", "micro-batch 13: not finished by the horizon", "1234abcd5678ef90",
        "FAILED (2 errors)", "3 verify failures", "12 of 16"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  EXPECT_EQ(count(section(html, "summary"), "<tr>"), 1 + r.workloads.size());
  for (const auto& w : r.workloads) EXPECT_NE(html.find("<td>" + w.name + "</td>"), std::string::npos) << w.name;

  // throughput sent and received: one line per NIC each, one legend entry per NIC and
  // per line rate (400 and 800 Gb/s) under each chart
  const std::string throughput = chart_svg(html, "throughput");
  ASSERT_NE(throughput, "");
  EXPECT_EQ(count(throughput, "<g class=\"series\""), r.nics.size());
  EXPECT_EQ(count(throughput, "<polyline"), r.nics.size());
  EXPECT_EQ(count(html, "<span class=\"swatch\""), 2 * (r.nics.size() + 2));
  EXPECT_EQ(count(throughput, "<g class=\"band"), r.workloads.size());
  EXPECT_NE(throughput.find("sent (Gb/s)"), std::string::npos);
  EXPECT_NE(throughput.find("virtual time (ms)"), std::string::npos);
  // 320 Gb/s bursts: the axis reaches 400 or 500
  EXPECT_TRUE(throughput.find(">400<") != std::string::npos || throughput.find(">500<") != std::string::npos);

  // latency: one CDF per workload with latencies, p50 and p99 marked
  for (size_t i = 0; i < r.workloads.size(); ++i) {
    const std::string svg = chart_svg(html, "latency-" + std::to_string(i));
    ASSERT_NE(svg, "") << i;
    EXPECT_EQ(count(svg, "<g class=\"series\""), 1u);
    EXPECT_EQ(count(svg, "<g class=\"marker\""), 2u);
    EXPECT_NE(svg.find(">p50 "), std::string::npos);
    EXPECT_NE(svg.find(">p99 "), std::string::npos);
  }
  // KV: pd_disagg only, a dot per request in each of its two charts
  EXPECT_EQ(count(html, "id=\"kv-requests-"), 1u);
  EXPECT_EQ(count(chart_svg(html, "kv-requests-1"), "<circle"), r.workloads[1].requests.size());
  EXPECT_EQ(count(chart_svg(html, "kv-tokens-1"), "<circle"), r.workloads[1].requests.size());
  EXPECT_EQ(charts_declared(html), static_cast<int>(2 + r.workloads.size() + 2));
  EXPECT_EQ(count(html, "<svg class=\"chart\""), static_cast<size_t>(charts_declared(html)));
  EXPECT_EQ(to_html(r), html);  // the same report gives the same page
}

TEST(HtmlReport, LineRatesAreDashedLevelsOnBothThroughputCharts) {
  const ReplayReport r = sample_report();
  const std::string html = to_html(r);
  for (const char* id : {"throughput", "throughput-rx"}) {
    const std::string svg = chart_svg(html, id);
    ASSERT_NE(svg, "") << id;
    EXPECT_EQ(count(svg, "<g class=\"level\""), 2u) << id;  // 400 and 800: distinct rates once each
    EXPECT_NE(svg.find(">400 Gb/s line rate<"), std::string::npos) << id;
    EXPECT_NE(svg.find(">800 Gb/s line rate<"), std::string::npos) << id;
    // the axis reaches above the highest line rate
    EXPECT_TRUE(svg.find(">1000<") != std::string::npos || svg.find(">900<") != std::string::npos) << id;
  }
  ReplayReport unknown_rates = r;
  for (auto& nic : unknown_rates.nics) nic.gbps = 0;
  EXPECT_EQ(count(to_html(unknown_rates), "<g class=\"level\""), 0u);
}

TEST(HtmlReport, ReceivedThroughputComesFromRxBytes) {
  const ReplayReport r = sample_report();
  const std::string html = to_html(r);
  const std::string rx = chart_svg(html, "throughput-rx");
  ASSERT_NE(rx, "");
  EXPECT_EQ(count(rx, "<polyline"), r.nics.size());
  EXPECT_NE(rx.find("received (Gb/s)"), std::string::npos);
  EXPECT_NE(html.find(r.nics[0].name + " rx"), std::string::npos);
  EXPECT_NE(chart_svg(html, "throughput"), rx);  // its own figures, not a copy of tx

  ReplayReport no_rx = r;
  for (auto& nic : no_rx.nics) nic.rx_bytes.clear();
  const std::string without = to_html(no_rx);
  EXPECT_EQ(chart_svg(without, "throughput-rx"), "");
  EXPECT_NE(without.find("No receive timelines in this report."), std::string::npos);

  ReplayReport wall_clock = r;
  wall_clock.virtual_time = false;
  EXPECT_EQ(chart_svg(to_html(wall_clock), "throughput-rx"), "");
  EXPECT_NE(to_html(wall_clock).find("Not recorded: on a wall-clock fabric"), std::string::npos);
}

TEST(HtmlReport, FaultsAreMarkedOnTheTimeChartsAndListed) {
  const ReplayReport r = sample_report();
  const std::string html = to_html(r);
  for (const char* id : {"throughput", "throughput-rx"}) {
    const std::string svg = chart_svg(html, id);
    EXPECT_EQ(count(svg, "<g class=\"marker\""), r.faults.size()) << id;
    EXPECT_NE(svg.find(">link_down node0/nic1<"), std::string::npos) << id;
    EXPECT_NE(svg.find(">loss_rate node1/nic0<"), std::string::npos) << id;
  }
  const std::string faults = section(html, "faults");
  EXPECT_EQ(count(faults, "<tr>"), 1 + r.faults.size());
  EXPECT_NE(faults.find("<td>link_down</td><td>node0/nic1</td>"), std::string::npos);
  EXPECT_NE(faults.find("loss probability 0.01"), std::string::npos);
  char at[32];
  std::snprintf(at, sizeof at, "<td>%.2f ms</td>", static_cast<double>(r.faults[0].at_ns) / 1e6);
  EXPECT_NE(faults.find(at), std::string::npos) << at;

  ReplayReport none = r;
  none.faults.clear();
  const std::string without = to_html(none);
  EXPECT_EQ(count(chart_svg(without, "throughput"), "<g class=\"marker\""), 0u);
  EXPECT_NE(section(without, "faults").find("No faults were applied."), std::string::npos);
}

TEST(HtmlReport, CountersSayNotModelledRatherThanZero) {
  const std::string html = to_html(sample_report());
  const std::string counters = section(html, "counters");
  ASSERT_NE(counters, "");
  EXPECT_NE(counters.find("<td>packets retransmitted</td><td>17</td>"), std::string::npos);
  EXPECT_NE(counters.find("<td>time paused by PFC (summed over devices)</td><td>2.50 ms</td>"), std::string::npos);
  EXPECT_NE(counters.find("<td>ECN-marked packets</td><td class=\"missing\">not modelled (no congestion control)</td>"),
            std::string::npos);
  EXPECT_EQ(counters.find("<td>ECN-marked packets</td><td>0</td>"), std::string::npos);
  EXPECT_NE(section(to_html(empty_report()), "counters").find("does not carry the fabric's counters"),
            std::string::npos);
}

TEST(HtmlReport, ScenarioParametersAndTimingModelAreShown) {
  const ReplayReport r = sample_report();
  const std::string html = to_html(r);
  const std::string parameters = section(html, "parameters");
  ASSERT_NE(parameters, "");
  for (const char* text : {"<dt>layers</dt><dd>80</dd>", "<dt>hidden_size</dt><dd>8192</dd>",
                           "<dt>gpus_per_node</dt><dd>8</dd>", "<dt>nics_per_node</dt><dd>4</dd>",
                           "<dd>400 Gb/s, 400 Gb/s, 800 Gb/s, 800 Gb/s</dd>", "<h3>Fabric (emu)</h3>",
                           "<dt>delay</dt><dd>1000 ns</dd>", "<h3>pd (pd_disagg)</h3>", "<dt>block_size</dt><dd>16</dd>",
                           "scale (0.2500) applied"})
    EXPECT_NE(parameters.find(text), std::string::npos) << text;
  EXPECT_EQ(count(parameters, "class=\"workload-keys\""), r.parameters.workloads.size());
  EXPECT_NE(html.find("<strong>Timing model:</strong> emu deterministic: a sample timing model sentence."),
            std::string::npos);

  ReplayReport other_provider = r;
  other_provider.provider = "sim";
  EXPECT_NE(to_html(other_provider).find("this replay ran on sim with that provider's defaults"), std::string::npos);

  const std::string empty = to_html(empty_report());
  EXPECT_NE(section(empty, "parameters").find("does not carry the scenario's parameters"), std::string::npos);
  EXPECT_NE(empty.find("<strong>Timing model:</strong> not known"), std::string::npos);
}

TEST(HtmlReport, EmptyReportSaysSoWithoutCharts) {
  const std::string html = to_html(empty_report());
  expect_sound(html);
  EXPECT_EQ(charts_declared(html), 0);
  EXPECT_EQ(count(html, "<svg"), 0u);
  EXPECT_NE(html.find("No workloads ran."), std::string::npos);
  EXPECT_NE(html.find("No NIC timelines in this report."), std::string::npos);
  EXPECT_NE(html.find("No completed operations to show."), std::string::npos);
  EXPECT_EQ(html.find("id=\"kv\""), std::string::npos);
}

TEST(HtmlReport, DegenerateDataDrawsNoBrokenChart) {
  const std::string html = to_html(degenerate_report());
  expect_sound(html);
  // interval_ns 0: no throughput chart; the workload without latencies: no latency chart;
  // all-zero latencies: a chart on [0, 1]; pd_disagg without requests: a note.
  EXPECT_EQ(chart_svg(html, "throughput"), "");
  EXPECT_NE(html.find("No NIC timelines in this report."), std::string::npos);
  EXPECT_EQ(chart_svg(html, "latency-0"), "");
  EXPECT_NE(chart_svg(html, "latency-1"), "");
  EXPECT_NE(html.find("No completed requests to show."), std::string::npos);
  EXPECT_EQ(charts_declared(html), 1);
  // fast mode: times are wall-clock, and the page says so
  EXPECT_NE(html.find("run time (wall clock)"), std::string::npos);
  EXPECT_NE(chart_svg(html, "latency-1").find("(ns, wall clock)"), std::string::npos);

  ReplayReport no_intervals = degenerate_report();
  no_intervals.interval_ns = 1000;
  no_intervals.nics.resize(1);  // the NIC with no intervals
  EXPECT_EQ(chart_svg(to_html(no_intervals), "throughput"), "");
}

TEST(HtmlReport, SinglePointsShowAsDots) {
  const std::string html = to_html(single_point_report());
  expect_sound(html);
  const std::string throughput = chart_svg(html, "throughput");
  EXPECT_EQ(count(throughput, "<polyline"), 0u);  // a line needs two points
  EXPECT_EQ(count(throughput, "<circle"), 1u);
  EXPECT_NE(throughput.find("98.76 Gb/s"), std::string::npos);  // 12,345 B in 1 us
  EXPECT_EQ(count(chart_svg(html, "kv-requests-0"), "<circle"), 1u);
  EXPECT_EQ(count(chart_svg(html, "latency-0"), "<g class=\"marker\""), 2u);
  EXPECT_EQ(charts_declared(html), 5);  // sent, received, latency, two KV charts
  // 3 tokens asked for, a whole 16-token block moved: the label says both
  EXPECT_NE(chart_svg(html, "kv-requests-0").find("3 tokens requested, 16 moved (1 block of 16)"), std::string::npos);
  EXPECT_EQ(html.find(">3 tokens,"), std::string::npos);
}

TEST(HtmlReport, HostileTextIsEscapedEverywhere) {
  const ReplayReport r = hostile_report();
  const std::string html = to_html(r);
  expect_sound(html, /*text_holds_urls=*/true);
  EXPECT_EQ(html.find("</script><script>"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("onerror=\""), std::string::npos);
  EXPECT_EQ(html.find('\x01'), std::string::npos);
  EXPECT_EQ(count(html, "<script"), 1u);  // the page's own
  // every place that shows a text shows it escaped: title, h1, dl (x3), errors, table, ...
  EXPECT_GE(count(html, "&lt;/script&gt;&lt;script&gt;"), 20u);
  // the charts are all still there
  EXPECT_EQ(charts_declared(html), charts_declared(to_html(sample_report())));
  EXPECT_EQ(count(chart_svg(html, "throughput"), "<g class=\"series\""), r.nics.size());
}

TEST(HtmlReport, HugeFiguresStayFinite) {
  const std::string html = to_html(huge_report());
  expect_sound(html);
  EXPECT_NE(html.find("18446744073709551615"), std::string::npos);  // seed, in full
  EXPECT_NE(html.find("ffffffffffffffff"), std::string::npos);      // trace hash
  EXPECT_EQ(count(chart_svg(html, "throughput"), "<g class=\"series\""), 2u);
  EXPECT_EQ(count(chart_svg(html, "throughput"), "<g class=\"band"), 0u);  // the spans overlap
  EXPECT_EQ(count(chart_svg(html, "kv-requests-0"), "<circle"), 2u);
  EXPECT_LT(html.size(), 200'000u);
}

TEST(HtmlReport, LargeSeriesAreDownsampled) {
  const ReplayReport r = large_report();
  const std::string html = to_html(r);
  expect_sound(html);
  const std::string throughput = chart_svg(html, "throughput");
  EXPECT_EQ(count(throughput, "<polyline"), r.nics.size());
  // 32 NICs share a budget of 24,000 points: 750 each, 100,000 intervals in groups of 134
  for (size_t points : polyline_points(throughput)) EXPECT_EQ(points, 747u);
  EXPECT_NE(html.find("averaged over 134 intervals per point"), std::string::npos);
  EXPECT_EQ(polyline_points(chart_svg(html, "latency-0")), std::vector<size_t>{1001});  // (min, 0) and 1000 ranks
  EXPECT_EQ(count(chart_svg(html, "kv-requests-0"), "<circle"), 2000u);
  EXPECT_NE(html.find("One dot per 5 consecutive requests: the slowest of them."), std::string::npos);
  EXPECT_LT(html.size(), 3'000'000u);
}

}  // namespace
}  // namespace ferry::report
