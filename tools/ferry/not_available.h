// The answer of a command that is declared (options, help, exit codes) but not built yet.
#pragma once

#include <string_view>

namespace ferry::cli {

// Prints "ferry COMMAND: not available yet; <meanwhile>" to stderr; returns kExitUsage.
int not_available_yet(std::string_view command, std::string_view meanwhile);

}  // namespace ferry::cli
