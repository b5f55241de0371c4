// Thresholds of the qualification suite, read from a small text file:
//
//   # comment
//   write_bw_min_fraction = 0.8
//
// Every key has a default (those of thresholds.conf); a file overrides some. Unknown
// keys and malformed lines are errors naming file:line, so a typo never silently
// weakens a check.
#pragma once

#include <map>
#include <string>

#include "transport/result.h"

namespace ferry::qualify {

struct Thresholds {
  double write_bw_min_fraction = 0.8;  // of line rate, at sizes >= bw_large_bytes
  double read_bw_min_fraction = 0.7;
  double send_bw_min_fraction = 0.7;
  double bw_large_bytes = 1 << 20;
  double write_lat_max_us = 10;  // 8-byte write-with-imm, half round trip
  double read_lat_max_us = 15;
  double send_lat_max_us = 10;
  double imm_load_notifications = 10000;

  static Result<Thresholds> parse(const std::string& text, const std::string& file_name);
  static Result<Thresholds> load(const std::string& path);

 private:
  std::map<std::string, double*> fields();
};

}  // namespace ferry::qualify
