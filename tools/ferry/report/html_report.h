// report.html: one self-contained page (no network access, charts as inline SVG) with a
// replay's summary tables, throughput over time per NIC and latency per workload.
#pragma once

#include <string>

#include "tools/ferry/replay/replay.h"

namespace ferry::report {

// The whole page, ready to write to a file.
std::string to_html(const replay::ReplayReport& report);

}  // namespace ferry::report
