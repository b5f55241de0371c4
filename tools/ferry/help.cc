#include "tools/ferry/help.h"

#include <algorithm>
#include <cstdio>

#include "tools/ferry/exit_codes.h"
#include "tools/ferry/text_wrap.h"

namespace ferry::cli {
namespace {

constexpr std::string_view kUsageExit =
    "usage error: an unknown command or option, a bad option value, a wrong number of operands";

// Two columns: a term, and its explanation wrapped beside it.
std::string two_columns(std::string_view term, std::string_view text, size_t column) {
  std::string line = "  " + std::string(term);
  if (line.size() + 2 > column) return line + "\n" + wrap(text, column, column);
  line.append(column - line.size(), ' ');
  return line + wrap(text, column, column).substr(column);  // the first line continues the term's
}

// Paragraphs separated by blank lines, each wrapped.
std::string paragraphs(std::string_view text) {
  std::string out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find("\n\n", start);
    if (end == std::string_view::npos) end = text.size();
    std::string paragraph(text.substr(start, end - start));
    std::replace(paragraph.begin(), paragraph.end(), '\n', ' ');
    if (!out.empty()) out += '\n';
    out += wrap(paragraph, 0, 0);
    start = end + 2;
  }
  return out;
}

std::string exit_status(std::string_view ok, std::string_view failed) {
  return "Exit status:\n" + two_columns("0", ok, 5) + two_columns("1", failed, 5) + two_columns("2", kUsageExit, 5);
}

}  // namespace

std::string program_help(std::span<const Command> commands) {
  std::string out =
      "usage: ferry COMMAND [options] [operands]\n"
      "       ferry COMMAND --help\n\n";
  out += paragraphs(
      "ferry replays the communication of LLM inference (tensor-parallel decode, prefill-to-decode KV-cache "
      "migration, MoE dispatch and combine, pipeline stages, weight loading) from scenario files on an RDMA "
      "fabric: the emulator (emu), the ns-3 simulation (sim), real NICs (verbs) or TCP sockets (tcp). Scenario "
      "files are YAML; "
      "docs/scenarios.md describes them and scenarios/ holds examples.");
  out += "\nCommands:\n";
  for (const Command& command : commands) {
    out += two_columns(command.spec.name, command.spec.summary, 14);
  }
  out += "\nOptions:\n" + two_columns("-h, --help", "show this help; 'ferry COMMAND --help' describes a command", 14);
  out += "\nExit status:\n" + two_columns("0", "success", 5) +
         two_columns("1", "a scenario is invalid, or a run failed", 5) +
         two_columns("2", kUsageExit, 5);
  return out;
}

std::string command_help(const CommandSpec& spec) {
  std::string out = "usage: ferry " + spec.name + " [options]";
  if (!spec.operands.empty()) out += " " + spec.operands;
  out += "\n\n";
  out += paragraphs(spec.description) + "\nOptions:\n";
  size_t column = 0;
  for (const OptionSpec& option : spec.options) {
    column = std::max(column, option.name.size() + 1 + option.value_name.size());
  }
  column = std::clamp<size_t>(column + 4, 16, 26);
  for (const OptionSpec& option : spec.options) {
    const std::string term = option.value_name.empty() ? option.name : option.name + " " + option.value_name;
    out += two_columns(term, option.help, column);
  }
  out += two_columns("-h, --help", "show this help and exit", column);
  return out + "\n" + exit_status(spec.exit_ok, spec.exit_failed);
}

int usage_error(std::string_view command, std::string_view message) {
  const std::string who = command.empty() ? "ferry" : "ferry " + std::string(command);
  std::fprintf(stderr, "%s: %.*s\nRun '%s --help' for usage.\n", who.c_str(), static_cast<int>(message.size()),
               message.data(), who.c_str());
  return kExitUsage;
}

}  // namespace ferry::cli
