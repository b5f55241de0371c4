#include "tools/ferry/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tools/ferry/report/html_escape.h"

namespace ferry::report {
namespace {

// Room around the plot for tick labels and axis labels, in SVG units.
constexpr double kLeft = 70, kRight = 30, kTop = 14, kBottom = 46;

// One decimal is plenty at screen resolution; anything not finite becomes 0 so that the
// SVG never holds "nan" or "inf".
std::string coordinate(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

struct Frame {
  double left, top, width, height;  // the plot area
  AxisTicks x, y;

  double px(double x_value) const { return left + std::clamp(ratio(x_value, x.top), 0.0, 1.0) * width; }
  double py(double y_value) const { return top + height - std::clamp(ratio(y_value, y.top), 0.0, 1.0) * height; }
  static double ratio(double v, double top) {
    const double r = v / top;  // top > 0 by construction
    return std::isfinite(r) ? r : 0;
  }
};

void draw_plot_area(std::string& out, const Frame& f) {
  out += "<rect class=\"plot\" x=\"" + coordinate(f.left) + "\" y=\"" + coordinate(f.top) + "\" width=\"" +
         coordinate(f.width) + "\" height=\"" + coordinate(f.height) + "\"/>";
}

void draw_axes(std::string& out, const Chart& chart, const Frame& f) {
  out += "<g class=\"axis x\">";
  for (int i = 0; i <= f.x.count; ++i) {
    const double v = i * f.x.step;
    const std::string x = coordinate(f.px(v));
    out += "<line class=\"grid\" x1=\"" + x + "\" y1=\"" + coordinate(f.top) + "\" x2=\"" + x + "\" y2=\"" +
           coordinate(f.top + f.height + 5) + "\"/>";
    out += "<text x=\"" + x + "\" y=\"" + coordinate(f.top + f.height + 18) + "\" text-anchor=\"middle\">" +
           format_tick(v, f.x.step) + "</text>";
  }
  out += "<text class=\"axis-label\" x=\"" + coordinate(f.left + f.width / 2) + "\" y=\"" +
         coordinate(f.top + f.height + 38) + "\" text-anchor=\"middle\">" + escape_html(chart.x.label) + "</text>";
  out += "</g><g class=\"axis y\">";
  for (int i = 0; i <= f.y.count; ++i) {
    const double v = i * f.y.step;
    const std::string y = coordinate(f.py(v));
    out += "<line class=\"grid\" x1=\"" + coordinate(f.left - 5) + "\" y1=\"" + y + "\" x2=\"" +
           coordinate(f.left + f.width) + "\" y2=\"" + y + "\"/>";
    out += "<text x=\"" + coordinate(f.left - 8) + "\" y=\"" + coordinate(f.py(v) + 4) + "\" text-anchor=\"end\">" +
           format_tick(v, f.y.step) + "</text>";
  }
  const std::string mid = coordinate(f.top + f.height / 2);
  out += "<text class=\"axis-label\" x=\"14\" y=\"" + mid + "\" text-anchor=\"middle\" transform=\"rotate(-90 14 " +
         mid + ")\">" + escape_html(chart.y.label) + "</text></g>";
}

void draw_bands(std::string& out, const Chart& chart, const Frame& f) {
  for (size_t i = 0; i < chart.bands.size(); ++i) {
    const ChartBand& band = chart.bands[i];
    const double x0 = f.px(band.from), x1 = f.px(std::max(band.from, band.to));
    out += "<g class=\"band band" + std::to_string(i % 2) + "\"><title>" + escape_html(band.label) +
           "</title><rect x=\"" + coordinate(x0) + "\" y=\"" + coordinate(f.top) + "\" width=\"" + coordinate(x1 - x0) +
           "\" height=\"" + coordinate(f.height) + "\"/>";
    // A label only where it fits, cut to the band's width (about 6.5 units a character).
    const size_t fits = static_cast<size_t>(std::max(0.0, (x1 - x0 - 6) / 6.5));
    if (fits >= 3) {
      std::string label = band.label;
      if (label.size() > fits) label = label.substr(0, fits - 1) + "\xE2\x80\xA6";  // …
      out += "<text x=\"" + coordinate(x0 + 3) + "\" y=\"" + coordinate(f.top + 12) + "\">" + escape_html(label) +
             "</text>";
    }
    out += "</g>";
  }
}

void draw_series(std::string& out, const ChartSeries& s, const Frame& f) {
  out += "<g class=\"series\" stroke=\"" + escape_html(s.color) + "\" fill=\"" + escape_html(s.color) + "\"";
  if (!s.dash.empty()) out += " stroke-dasharray=\"" + escape_html(s.dash) + "\"";
  out += "><title>" + escape_html(s.label) + "</title>";
  if (s.line && s.points.size() > 1) {
    out += "<polyline fill=\"none\" points=\"";
    for (size_t i = 0; i < s.points.size(); ++i) {
      if (i) out += ' ';
      out += coordinate(f.px(s.points[i].x)) + "," + coordinate(f.py(s.points[i].y));
    }
    out += "\"/>";
  }
  if (!s.line || s.points.size() <= kDotsUpTo) {
    for (const ChartPoint& p : s.points) {
      out += "<circle stroke-dasharray=\"none\" cx=\"" + coordinate(f.px(p.x)) + "\" cy=\"" + coordinate(f.py(p.y)) +
             "\" r=\"3\">";
      if (!p.tooltip.empty()) out += "<title>" + escape_html(p.tooltip) + "</title>";
      out += "</circle>";
    }
  }
  out += "</g>";
}

void draw_markers(std::string& out, const Chart& chart, const Frame& f) {
  for (size_t i = 0; i < chart.markers.size(); ++i) {
    const ChartMarker& m = chart.markers[i];
    const double x = f.px(m.x);
    const bool right_half = x > f.left + f.width / 2;
    const double label_y = f.top + 14 + 14 * static_cast<double>(i);  // one line each, so labels never overlap
    out += "<g class=\"marker\" stroke=\"" + escape_html(m.color) + "\" fill=\"" + escape_html(m.color) +
           "\"><line x1=\"" + coordinate(x) + "\" y1=\"" + coordinate(f.top) + "\" x2=\"" + coordinate(x) + "\" y2=\"" +
           coordinate(f.top + f.height) + "\"/><text stroke=\"none\" x=\"" + coordinate(right_half ? x - 4 : x + 4) +
           "\" y=\"" + coordinate(label_y) + "\" text-anchor=\"" + (right_half ? "end" : "start") + "\">" +
           escape_html(m.label) + "</text></g>";
  }
}

void draw_levels(std::string& out, const Chart& chart, const Frame& f) {
  for (const ChartLevel& level : chart.levels) {
    const std::string y = coordinate(f.py(level.y));
    out += "<g class=\"level\" stroke=\"" + escape_html(level.color) + "\" fill=\"" + escape_html(level.color) +
           "\"><line x1=\"" + coordinate(f.left) + "\" y1=\"" + y + "\" x2=\"" + coordinate(f.left + f.width) +
           "\" y2=\"" + y + "\"/><text stroke=\"none\" x=\"" + coordinate(f.left + f.width - 4) + "\" y=\"" +
           coordinate(f.py(level.y) - 4) + "\" text-anchor=\"end\">" + escape_html(level.label) + "</text></g>";
  }
}

// "150000" -> "150,000"
std::string grouped_thousands(const std::string& digits) {
  const size_t sign = digits[0] == '-' ? 1 : 0;
  std::string out = digits.substr(0, sign);
  for (size_t i = sign; i < digits.size(); ++i) {
    if (i > sign && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

AxisTicks axis_ticks(double max) {
  if (!(max > 0) || !std::isfinite(max)) max = 1;
  const double raw = max / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double normalized = raw / magnitude;
  const double step = (normalized <= 1 ? 1 : normalized <= 2 ? 2 : normalized <= 5 ? 5 : 10) * magnitude;
  const int count = std::max(1, static_cast<int>(std::ceil(max / step - 1e-9)));
  const double top = count * step;
  if (!(step > 0) || !std::isfinite(top) || count > 10) return AxisTicks{};
  return AxisTicks{step, top, count};
}

std::string format_tick(double value, double step) {
  if (!std::isfinite(value)) value = 0;
  char buf[48];
  if (std::fabs(value) >= 1e7 || (step > 0 && step < 1e-6)) {
    std::snprintf(buf, sizeof buf, "%.3g", value);
  } else {
    const int decimals = step >= 1 ? 0 : std::clamp(static_cast<int>(std::ceil(-std::log10(step) - 1e-9)), 0, 6);
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    if (decimals == 0 && std::fabs(value) >= 1e4) return grouped_thousands(buf);
  }
  return buf;
}

std::string series_color(size_t i) {
  static const char* const kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                         "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#7f7f7f"};
  return kPalette[i % 10];
}

std::string series_dash(size_t i) {
  static const char* const kDashes[] = {"", "7 3", "2 2", "9 3 2 3"};
  return kDashes[(i / 10) % 4];
}

std::string render_svg(const Chart& chart) {
  const int width = std::max(chart.width, 200), height = std::max(chart.height, 120);
  Frame f{
      kLeft, kTop, width - kLeft - kRight, height - kTop - kBottom, axis_ticks(chart.x.max), axis_ticks(chart.y.max)};
  std::string out = "<svg class=\"chart\" id=\"" + escape_html(chart.id) + "\" viewBox=\"0 0 " + std::to_string(width) +
                    " " + std::to_string(height) + "\" width=\"" + std::to_string(width) + "\" height=\"" +
                    std::to_string(height) + "\" role=\"img\" aria-label=\"" + escape_html(chart.title) + "\">";
  draw_plot_area(out, f);
  draw_bands(out, chart, f);
  draw_axes(out, chart, f);
  for (const ChartSeries& s : chart.series) draw_series(out, s, f);
  draw_levels(out, chart, f);
  draw_markers(out, chart, f);
  out += "</svg>";
  return out;
}

}  // namespace ferry::report
