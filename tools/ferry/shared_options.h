// Options that several commands take, declared once so that they read the same
// everywhere.
#pragma once

#include <optional>
#include <string>

#include "tools/ferry/options.h"

namespace ferry::cli {

OptionSpec scale_option();     // --scale X
OptionSpec provider_option();  // --provider NAME

// The value of --scale: a number in (0, 1e6]; nullopt, with `error` set, otherwise.
std::optional<double> parse_scale(const std::string& text, std::string& error);

}  // namespace ferry::cli
