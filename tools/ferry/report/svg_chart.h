// A line or scatter chart drawn as inline SVG: axes from zero with ticks and labels,
// one <g class="series"> per series, optional vertical markers (p50, p99, faults),
// horizontal levels (line rates) and shaded bands (workload spans). Every coordinate written is finite.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ferry::report {

struct ChartPoint {
  double x = 0;
  double y = 0;
  std::string tooltip;  // plain text, shown on hover; drawn only where the point has a dot
};

struct ChartSeries {
  std::string label;  // plain text
  std::string color;  // a CSS colour the caller controls, e.g. "#4e79a7"
  std::string dash;   // stroke-dasharray, empty for a solid line
  std::vector<ChartPoint> points;
  bool line = true;  // false: dots only (a scatter)
};

// A vertical line at x with a label, e.g. a percentile.
struct ChartMarker {
  double x = 0;
  std::string label;
  std::string color;
};

// A dashed horizontal line at y with a label, e.g. a NIC's line rate.
struct ChartLevel {
  double y = 0;
  std::string label;
  std::string color;
};

// A shaded span of the x axis with a label, e.g. the time a workload ran.
struct ChartBand {
  double from = 0;
  double to = 0;
  std::string label;
};

struct ChartAxis {
  std::string label;  // with its unit, e.g. "virtual time (ms)"
  double max = 0;     // data maximum; the axis runs from 0 to the tick at or above it
};

struct Chart {
  std::string id;     // the svg element's id: letters, digits and '-' only
  std::string title;  // plain text: the chart's accessible name
  ChartAxis x;
  ChartAxis y;
  std::vector<ChartSeries> series;
  std::vector<ChartMarker> markers;
  std::vector<ChartLevel> levels;  // the caller keeps y.max at or above them
  std::vector<ChartBand> bands;
  int width = 880;
  int height = 320;
};

// Series with at most this many points also get a dot (with its tooltip) per point, so
// that a single point shows.
constexpr size_t kDotsUpTo = 40;

// <svg class="chart" ...>...</svg>
std::string render_svg(const Chart& chart);

// Ticks for an axis from 0 to `max`: multiples of `step` (1, 2 or 5 times a power of ten)
// from 0 to `top`, the first at or above `max`. A `max` that is not positive and finite
// gives the axis [0, 1].
struct AxisTicks {
  double step = 1;
  double top = 1;
  int count = 1;  // intervals: ticks are i * step for i in [0, count]
};
AxisTicks axis_ticks(double max);

// A tick label with as many decimals as `step` needs ("0.25", "1200", "150,000", "1.5e+09").
std::string format_tick(double value, double step);

// The colour and dash pattern of the i-th series: ten colours, then the same ten dashed.
std::string series_color(size_t i);
std::string series_dash(size_t i);

}  // namespace ferry::report
