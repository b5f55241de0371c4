// The qualification suite's command line, shared by //hw_tests:qualify and
// `ferry qualify`: one parser, one set of options, one behaviour.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace ferry::qualify {

// The options and exit codes, as `qualify --help` prints them.
extern const char* const kCliUsage;

// Runs the suite as the command line `args` (without the program name) asks: prints the
// report to `out`, errors to `err`. Returns the exit status: 0 every check passed, 1 a
// check failed, 2 bad arguments or no device. `program` prefixes error messages.
int run_cli(const std::vector<std::string>& args, std::FILE* out, std::FILE* err,
            const std::string& program = "qualify");

}  // namespace ferry::qualify
