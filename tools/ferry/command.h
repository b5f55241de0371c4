// Command: one `ferry` subcommand: its declaration (options, help) and what it runs.
#pragma once

#include <vector>

#include "tools/ferry/options.h"

namespace ferry::cli {

struct Command {
  CommandSpec spec;
  // Runs with a command line that matched the spec; prints to stdout and stderr and
  // returns the exit status (exit_codes.h).
  int (*run)(const ParsedArguments& arguments);
};

// Every subcommand, in the order `ferry --help` lists them.
std::vector<Command> all_commands();

Command validate_command();
Command replay_command();
Command diff_command();
Command bench_command();
Command qualify_command();
Command swarm_command();

}  // namespace ferry::cli
