// Synthetic replay reports for the report.html tests: what a real run gives, nothing at
// all, text that tries to break out of the page, and figures at the limits of their types.
#pragma once

#include <string>
#include <vector>

#include "tools/ferry/replay/replay.h"

namespace ferry::report {

// What the page's hostile samples carry in every text field. If the page ran it, the
// body would carry data-injected="yes".
constexpr char kHostileText[] =
    "</script><script>document.body.dataset.injected='yes'</script><img src=\"http://x/y.png\" "
    "onerror=\"document.body.dataset.injected='yes'\">\"' & \x01\xff</title></style>";

// Four NICs over 500 intervals, one workload of every kind (pd_disagg with per-request
// KV timings), start times one after another, a failed workload with errors and a note.
replay::ReplayReport sample_report();
// No workloads, no NICs, no intervals.
replay::ReplayReport empty_report();
// Workloads without latencies or requests, NICs without intervals, an interval of 0.
replay::ReplayReport degenerate_report();
// One interval, one latency, one request.
replay::ReplayReport single_point_report();
// sample_report() with kHostileText in every string.
replay::ReplayReport hostile_report();
// UINT64_MAX and friends in every figure, interval_ns 1.
replay::ReplayReport huge_report();
// 32 NICs with 100,000 intervals each, 100,000 latencies, 10,000 requests.
replay::ReplayReport large_report();

// The names above, for the writer: "sample", "empty", ...
std::vector<std::string> sample_report_names();
// The report of that name; false if there is none.
bool sample_report_by_name(const std::string& name, replay::ReplayReport* report);

}  // namespace ferry::report
