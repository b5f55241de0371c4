// ferry: the command-line entry point. Finds the subcommand, checks its command line
// against its declaration, and runs it (docs/cli.md).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "scenarios/suggest.h"
#include "tools/ferry/command.h"
#include "tools/ferry/exit_codes.h"
#include "tools/ferry/help.h"

namespace ferry::cli {
namespace {

const Command* find_command(const std::vector<Command>& commands, std::string_view name) {
  for (const Command& command : commands) {
    if (command.spec.name == name) return &command;
  }
  return nullptr;
}

int unknown_command(const std::vector<Command>& commands, const std::string& name) {
  std::vector<std::string_view> names;
  for (const Command& command : commands) names.push_back(command.spec.name);
  return usage_error("", "unknown command '" + name + "'" + scenarios::suggestion_suffix(name, names));
}

// `ferry help [COMMAND]`.
int help(const std::vector<Command>& commands, const std::vector<std::string>& args) {
  if (args.size() == 1) {
    std::fputs(program_help(commands).c_str(), stdout);
    return kExitOk;
  }
  if (args.size() > 2) return usage_error("help", "takes one COMMAND at most");
  const Command* command = find_command(commands, args[1]);
  if (command == nullptr) return unknown_command(commands, args[1]);
  std::fputs(command_help(command->spec).c_str(), stdout);
  return kExitOk;
}

int run(const std::vector<std::string>& args) {
  const std::vector<Command> commands = all_commands();
  if (args.empty()) return usage_error("", "missing COMMAND (validate, replay, diff, bench, qualify or swarm)");
  const std::string& first = args[0];
  if (first == "-h" || first == "--help") {
    std::fputs(program_help(commands).c_str(), stdout);
    return kExitOk;
  }
  if (first == "help") return help(commands, args);
  if (!first.empty() && first[0] == '-') return usage_error("", "unknown option '" + first + "'");
  const Command* command = find_command(commands, first);
  if (command == nullptr) return unknown_command(commands, first);
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  const ArgumentsOrError parsed = parse_arguments(command->spec, rest);
  if (!parsed.arguments) return usage_error(command->spec.name, parsed.error);
  if (parsed.arguments->help) {
    std::fputs(command_help(command->spec).c_str(), stdout);
    return kExitOk;
  }
  return command->run(*parsed.arguments);
}

}  // namespace
}  // namespace ferry::cli

int main(int argc, char** argv) {
  // Under `bazel run` the program starts in its runfiles; relative paths on the command
  // line mean the directory the user typed them in.
  if (const char* workspace = std::getenv("BUILD_WORKING_DIRECTORY")) {
    if (chdir(workspace) != 0) std::fprintf(stderr, "ferry: cannot enter %s\n", workspace);
  }
  return ferry::cli::run(std::vector<std::string>(argv + 1, argv + argc));
}
