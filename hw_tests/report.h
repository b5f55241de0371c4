// The qualification report: one row per check, printed as a table and as JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::qualify {

enum class Outcome { kPass, kFail, kNotRun };

struct Check {
  std::string group;   // functional, performance, robustness
  std::string name;    // e.g. "rail0/RC/write-with-imm"
  Outcome outcome = Outcome::kPass;
  std::string detail;  // what was seen; why it failed; why it did not run
  // Performance checks: the measured value, its unit and the threshold it was held to.
  double value = 0;
  std::string unit;
  double threshold = 0;
  bool has_value = false;
};

struct Report {
  std::string provider;
  std::vector<std::string> devices;
  std::vector<Check> checks;

  // One check: passed when `failure` is empty.
  void add(const std::string& group, const std::string& name, const std::string& failure);
  void add_not_run(const std::string& group, const std::string& name, const std::string& why);
  // A performance check: `value` held to `threshold` (at least, or at most).
  void add_measure(const std::string& name, double value, const std::string& unit, double threshold, bool at_least,
                   const std::string& detail);

  size_t count(Outcome outcome) const;
  bool passed() const { return count(Outcome::kFail) == 0; }
  std::string table() const;
  std::string json() const;
};

const char* to_string(Outcome outcome);

}  // namespace ferry::qualify
