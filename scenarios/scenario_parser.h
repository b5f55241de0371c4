// Reading a scenario file: parse, validate, scale.
//
//   ScenarioParse parsed = load_scenario("scenarios/default.yaml");
//   if (!parsed.ok()) for (const Diagnostic& e : parsed.errors) puts(e.to_string().c_str());
//
// Never throws and never crashes on any input: every problem is a Diagnostic at its
// place, and all of them are collected, not only the first.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "scenarios/diagnostics.h"
#include "scenarios/scenario.h"

namespace ferry::scenarios {

struct ParseOptions {
  // Multiplies the file's own `scale:`. Must be positive and finite.
  double scale = 1;
};

struct ScenarioParse {
  std::optional<Scenario> scenario;  // present exactly when there are no errors
  std::vector<Diagnostic> errors;    // in file order

  bool ok() const { return errors.empty(); }
};

// `file_name` names the text in messages and, without its directory and extension, is
// the scenario's default name.
ScenarioParse parse_scenario(std::string_view text, std::string_view file_name, const ParseOptions& options = {});

// Reads the file, then parse_scenario(). Files over 16 MiB are refused.
ScenarioParse load_scenario(const std::string& path, const ParseOptions& options = {});

}  // namespace ferry::scenarios
