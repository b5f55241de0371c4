// Command-line options: what each command accepts, and parsing against it.
//
// A command declares its options once (CommandSpec); the parser checks the command line
// against the declaration and the help text is printed from it, so the two cannot drift.
// Options take "--name value" or "--name=value"; "--" ends the options; "-h" and
// "--help" ask for the help text wherever they stand.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::cli {

struct OptionSpec {
  std::string name;        // "--scale"
  std::string value_name;  // "X" for "--scale X"; empty for a flag
  std::string help;        // what it does, its default
};

struct CommandSpec {
  std::string name;      // "validate"
  std::string operands;  // as usage shows them: "FILE..."
  size_t min_operands = 0;
  size_t max_operands = 0;  // kAnyNumber: no limit
  std::string summary;      // one line, for `ferry --help`
  std::string description;  // paragraphs (separated by blank lines), for `ferry validate --help`
  std::vector<OptionSpec> options;
  std::string exit_ok;      // what exit status 0 means
  std::string exit_failed;  // what exit status 1 means

  static constexpr size_t kAnyNumber = static_cast<size_t>(-1);
};

struct ParsedArguments {
  bool help = false;
  std::map<std::string, std::string, std::less<>> options;  // given options; flags map to ""
  std::vector<std::string> operands;

  bool has(std::string_view option) const { return options.find(option) != options.end(); }
  const std::string* value(std::string_view option) const;
};

struct ArgumentsOrError {
  std::optional<ParsedArguments> arguments;
  std::string error;  // "unknown option '--scal' (did you mean '--scale'?)"
};

ArgumentsOrError parse_arguments(const CommandSpec& spec, std::span<const std::string> args);

}  // namespace ferry::cli
