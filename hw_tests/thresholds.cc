#include "hw_tests/thresholds.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ferry::qualify {
namespace {

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t\r");
  return s.substr(a, b - a + 1);
}

}  // namespace

std::map<std::string, double*> Thresholds::fields() {
  return {{"write_bw_min_fraction", &write_bw_min_fraction},
          {"read_bw_min_fraction", &read_bw_min_fraction},
          {"send_bw_min_fraction", &send_bw_min_fraction},
          {"bw_large_bytes", &bw_large_bytes},
          {"write_lat_max_us", &write_lat_max_us},
          {"read_lat_max_us", &read_lat_max_us},
          {"send_lat_max_us", &send_lat_max_us},
          {"imm_load_notifications", &imm_load_notifications}};
}

Result<Thresholds> Thresholds::parse(const std::string& text, const std::string& file_name) {
  Thresholds t;
  auto fields = t.fields();
  std::istringstream in(text);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string where = file_name + ":" + std::to_string(number) + ": ";
    const std::string content = trim(line.substr(0, line.find('#')));
    if (content.empty()) continue;
    const size_t eq = content.find('=');
    if (eq == std::string::npos) return make_error(ErrorCode::kInvalidArgument, where + "expected 'key = value'");
    const std::string key = trim(content.substr(0, eq));
    const std::string value = trim(content.substr(eq + 1));
    auto field = fields.find(key);
    if (field == fields.end()) {
      std::string known;
      for (const auto& [name, _] : fields) known += (known.empty() ? "" : ", ") + name;
      return make_error(ErrorCode::kInvalidArgument, where + "unknown threshold '" + key + "' (known: " + known + ")");
    }
    char* end = nullptr;
    const double v = std::strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(v >= 0)) {
      return make_error(ErrorCode::kInvalidArgument, where + "'" + key + "' needs a non-negative number, not '" + value + "'");
    }
    *field->second = v;
  }
  return t;
}

Result<Thresholds> Thresholds::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read thresholds file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

}  // namespace ferry::qualify
