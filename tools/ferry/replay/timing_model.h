// What each provider's timing model leaves out, in one sentence for report.json and
// report.html: the place these sentences are written (docs/emulator.md and
// docs/simulation.md give the detail).
#pragma once

#include <string>

namespace ferry::replay {

// `provider` as Cluster::provider_name gives it, `mode` as Cluster::mode (emu: "fast" or
// "deterministic").
std::string timing_model_note(const std::string& provider, const std::string& mode);

}  // namespace ferry::replay
