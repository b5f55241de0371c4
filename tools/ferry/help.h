// Help and usage messages, printed from the commands' declarations.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "tools/ferry/command.h"

namespace ferry::cli {

// `ferry --help`: the commands, the global options, the exit status.
std::string program_help(std::span<const Command> commands);

// `ferry COMMAND --help`: usage, description, every option, the exit status.
std::string command_help(const CommandSpec& spec);

// Prints "ferry[ COMMAND]: message" and where to find the usage to stderr; returns
// kExitUsage.
int usage_error(std::string_view command, std::string_view message);

}  // namespace ferry::cli
