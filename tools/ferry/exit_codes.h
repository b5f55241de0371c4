// The exit status of every ferry command (docs/cli.md).
#pragma once

namespace ferry::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,  // a scenario is invalid, or a run failed
  kExitUsage = 2,   // bad command line
};

}  // namespace ferry::cli
