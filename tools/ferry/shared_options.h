// Options that several commands take, declared once so that they read the same
// everywhere.
#pragma once

#include <string>

#include "tools/ferry/options.h"
#include "transport/result.h"

namespace ferry::cli {

OptionSpec scale_option();     // --scale X
OptionSpec provider_option();  // --provider NAME

// The value of --scale: a number in (0, 1e6], or an error saying what it takes.
Result<double> parse_scale(const std::string& text);

}  // namespace ferry::cli
