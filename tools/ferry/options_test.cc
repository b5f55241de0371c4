#include "tools/ferry/options.h"

#include <gtest/gtest.h>

#include "tools/ferry/command.h"
#include "tools/ferry/help.h"
#include "tools/ferry/text_wrap.h"

namespace ferry::cli {
namespace {

CommandSpec example() {
  CommandSpec spec;
  spec.name = "example";
  spec.operands = "FILE...";
  spec.min_operands = 1;
  spec.max_operands = CommandSpec::kAnyNumber;
  spec.options = {{"--scale", "X", "scale"}, {"--quiet", "", "quiet"}};
  return spec;
}

ArgumentsOrError parse(std::vector<std::string> args) { return parse_arguments(example(), args); }

TEST(Options, ValuesFlagsAndOperands) {
  const ArgumentsOrError parsed = parse({"a.yaml", "--scale", "0.5", "--quiet", "b.yaml", "--scale=2"});
  ASSERT_TRUE(parsed.arguments) << parsed.error;
  EXPECT_FALSE(parsed.arguments->help);
  EXPECT_EQ(*parsed.arguments->value("--scale"), "2");  // the last one counts
  EXPECT_TRUE(parsed.arguments->has("--quiet"));
  EXPECT_EQ(parsed.arguments->operands, (std::vector<std::string>{"a.yaml", "b.yaml"}));
}

TEST(Options, DoubleDashEndsOptionsAndDashIsAnOperand) {
  const ArgumentsOrError parsed = parse({"--", "--quiet", "-"});
  ASSERT_TRUE(parsed.arguments) << parsed.error;
  EXPECT_FALSE(parsed.arguments->has("--quiet"));
  EXPECT_EQ(parsed.arguments->operands, (std::vector<std::string>{"--quiet", "-"}));
}

TEST(Options, HelpWinsOverEveryOtherProblem) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"-h"}, {"--bogus", "-h"}, {"--scale", "x", "--help"}}) {
    const ArgumentsOrError parsed = parse(args);
    ASSERT_TRUE(parsed.arguments);
    EXPECT_TRUE(parsed.arguments->help);
  }
  const ArgumentsOrError after_double_dash = parse({"--", "--help"});
  ASSERT_TRUE(after_double_dash.arguments);
  EXPECT_FALSE(after_double_dash.arguments->help);
}

TEST(Options, UsageErrors) {
  EXPECT_EQ(parse({"--scal", "2", "a"}).error, "unknown option '--scal' (did you mean '--scale'?)");
  EXPECT_EQ(parse({"--frobnicate", "a"}).error, "unknown option '--frobnicate'");
  EXPECT_EQ(parse({"a", "--scale"}).error, "option '--scale' needs a value (X)");
  EXPECT_EQ(parse({"--quiet=yes", "a"}).error, "option '--quiet' takes no value");
  EXPECT_EQ(parse({"--quiet"}).error, "missing FILE...");
  CommandSpec two = example();
  two.operands = "A B";
  two.min_operands = two.max_operands = 2;
  EXPECT_EQ(parse_arguments(two, std::vector<std::string>{"a", "b", "c"}).error,
            "too many operands: expected A B, got 3");
  CommandSpec none = example();
  none.operands.clear();
  none.min_operands = none.max_operands = 0;
  EXPECT_EQ(parse_arguments(none, std::vector<std::string>{"a"}).error, "takes no operands, got 1");
}

TEST(Help, EveryCommandDocumentsEveryOptionAndExitStatus) {
  for (const Command& command : all_commands()) {
    const std::string help = command_help(command.spec);
    EXPECT_EQ(help.rfind("usage: ferry " + command.spec.name, 0), 0u) << help;
    for (const OptionSpec& option : command.spec.options) {
      EXPECT_NE(help.find("  " + option.name), std::string::npos) << command.spec.name << " " << option.name;
      EXPECT_FALSE(option.help.empty()) << option.name;
    }
    EXPECT_NE(help.find("-h, --help"), std::string::npos);
    EXPECT_NE(help.find("Exit status:\n  0  "), std::string::npos);
    EXPECT_NE(help.find("\n  1  "), std::string::npos);
    EXPECT_NE(help.find("\n  2  usage error"), std::string::npos);
    for (size_t start = 0, end; (end = help.find('\n', start)) != std::string::npos; start = end + 1) {
      EXPECT_LE(end - start, kTextWidth) << help.substr(start, end - start);
    }
  }
}

TEST(Help, ProgramHelpListsEveryCommand) {
  const std::vector<Command> commands = all_commands();
  const std::string help = program_help(commands);
  for (const Command& command : commands) {
    EXPECT_NE(help.find("\n  " + command.spec.name + " "), std::string::npos) << command.spec.name;
  }
}

TEST(TextWrap, BreaksAtSpacesAndIndents) {
  EXPECT_EQ(wrap("aaa bbb ccc", 2, 0, 8), "aaa bbb\n  ccc\n");
  EXPECT_EQ(wrap("aaaaaaaaaaaa b", 0, 0, 8), "aaaaaaaaaaaa\nb\n");  // a long word keeps its own line
  EXPECT_EQ(wrap("a  b", 1, 1, 80), " a b\n");
  EXPECT_EQ(wrap("", 0, 0, 80), "\n");
}

}  // namespace
}  // namespace ferry::cli
