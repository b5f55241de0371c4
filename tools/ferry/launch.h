// Launch: `ferry replay --launch N`: starts N processes of this binary, one per cluster
// node, on this host, meeting in a directory (a temporary folder unless one is given),
// forwards their output line by line prefixed with "[node i] ", waits for them all
// within a bound, and fails if any failed (docs/deployment.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::cli {

struct LaunchPlan {
  uint32_t nodes = 0;
  // Each process's arguments after "ferry replay --node I --directory URL", which the
  // launch puts first.
  std::vector<std::string> arguments;
  std::string directory;  // empty: a temporary file:// folder, removed afterwards
  double timeout_s = 600; // every process ends by then, or all are killed
};

// Runs the plan; the exit status: 0 when every process exited 0.
int launch_nodes(const LaunchPlan& plan);

}  // namespace ferry::cli
