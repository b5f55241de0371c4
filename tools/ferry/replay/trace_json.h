// trace.json: a replay as Chrome trace events (chrome://tracing, ui.perfetto.dev).
//
// One process per rank, with a span per operation (all-reduce, KV request, MoE dispatch
// or combine, micro-batch at a stage, broadcast); spans of one rank that overlap go to
// separate threads of that process. One process "NICs" with a counter track per NIC: its
// send rate in Gb/s per interval. Timestamps are microseconds of (virtual) time since the
// replay's start. Bounded: at most kMaxSpans spans (the count left out is in otherData),
// and a counter event only where a NIC's rate changes.
#pragma once

#include <string>

#include "tools/ferry/replay/replay.h"

namespace ferry::replay {

std::string to_trace_json(const ReplayReport& report);

}  // namespace ferry::replay
