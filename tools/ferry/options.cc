#include "tools/ferry/options.h"

#include "scenarios/suggest.h"

namespace ferry::cli {
namespace {

const OptionSpec* find_option(const CommandSpec& spec, std::string_view name) {
  for (const OptionSpec& option : spec.options) {
    if (option.name == name) return &option;
  }
  return nullptr;
}

std::string unknown_option(const CommandSpec& spec, std::string_view name) {
  std::vector<std::string_view> names = {"--help"};
  for (const OptionSpec& option : spec.options) names.push_back(option.name);
  std::string message = "unknown option '" + std::string(name) + "'";
  if (std::optional<std::string> match = scenarios::closest_match(name, names)) {
    message += " (did you mean '" + *match + "'?)";
  }
  return message;
}

std::string operand_count_error(const CommandSpec& spec, size_t given) {
  if (spec.max_operands == 0) return "takes no operands, got " + std::to_string(given);
  if (given < spec.min_operands) return "missing " + spec.operands;
  return "too many operands: expected " + spec.operands + ", got " + std::to_string(given);
}

}  // namespace

const std::string* ParsedArguments::value(std::string_view option) const {
  const auto found = options.find(option);
  return found != options.end() ? &found->second : nullptr;
}

ArgumentsOrError parse_arguments(const CommandSpec& spec, std::span<const std::string> args) {
  ParsedArguments parsed;
  // Help wins over every other problem of the line: it is what the user asked for.
  for (const std::string& arg : args) {
    if (arg == "--") break;
    if (arg == "-h" || arg == "--help") {
      parsed.help = true;
      return {parsed, {}};
    }
  }
  bool options_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_ended || arg.size() < 2 || arg[0] != '-') {
      parsed.operands.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_ended = true;
      continue;
    }
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    const OptionSpec* option = find_option(spec, name);
    if (option == nullptr) return {std::nullopt, unknown_option(spec, name)};
    if (option->value_name.empty()) {
      if (equals != std::string::npos) return {std::nullopt, "option '" + name + "' takes no value"};
      parsed.options[name] = "";
    } else if (equals != std::string::npos) {
      parsed.options[name] = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      parsed.options[name] = args[++i];
    } else {
      return {std::nullopt, "option '" + name + "' needs a value (" + option->value_name + ")"};
    }
  }
  const size_t given = parsed.operands.size();
  if (given < spec.min_operands || given > spec.max_operands) {
    return {std::nullopt, operand_count_error(spec, given)};
  }
  return {parsed, {}};
}

}  // namespace ferry::cli
