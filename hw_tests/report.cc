#include "hw_tests/report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace ferry::qualify {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass: return "PASS";
    case Outcome::kFail: return "FAIL";
    case Outcome::kNotRun: return "NOT RUN";
  }
  return "?";
}

void Report::add(const std::string& group, const std::string& name, const std::string& failure) {
  Check c;
  c.group = group;
  c.name = name;
  c.outcome = failure.empty() ? Outcome::kPass : Outcome::kFail;
  c.detail = failure;
  checks.push_back(c);
}

void Report::add_not_run(const std::string& group, const std::string& name, const std::string& why) {
  Check c;
  c.group = group;
  c.name = name;
  c.outcome = Outcome::kNotRun;
  c.detail = why;
  checks.push_back(c);
}

void Report::add_measure(const std::string& name, double value, const std::string& unit, double threshold,
                         bool at_least, const std::string& detail) {
  Check c;
  c.group = "performance";
  c.name = name;
  c.value = value;
  c.unit = unit;
  c.threshold = threshold;
  c.has_value = true;
  c.outcome = (at_least ? value >= threshold : value <= threshold) ? Outcome::kPass : Outcome::kFail;
  c.detail = detail;
  checks.push_back(c);
}

size_t Report::count(Outcome outcome) const {
  return static_cast<size_t>(std::count_if(checks.begin(), checks.end(),
                                           [&](const Check& c) { return c.outcome == outcome; }));
}

std::string Report::table() const {
  size_t name_width = 5;
  for (const Check& c : checks) name_width = std::max(name_width, c.group.size() + 1 + c.name.size());
  std::ostringstream out;
  out << "provider " << provider << ", devices:";
  for (const auto& d : devices) out << " " << d;
  out << "\n\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-7s  %14s  %14s  %s\n", static_cast<int>(name_width), "check", "result",
                "measured", "threshold", "detail");
  out << line;
  for (const Check& c : checks) {
    const std::string name = c.group + "/" + c.name;
    const std::string value = c.has_value ? number(c.value) + " " + c.unit : "";
    const std::string threshold = c.has_value ? number(c.threshold) + " " + c.unit : "";
    std::snprintf(line, sizeof line, "%-*s  %-7s  %14s  %14s  %s\n", static_cast<int>(name_width), name.c_str(),
                  to_string(c.outcome), value.c_str(), threshold.c_str(), c.detail.c_str());
    out << line;
  }
  out << "\n"
      << count(Outcome::kPass) << " passed, " << count(Outcome::kFail) << " failed, " << count(Outcome::kNotRun)
      << " not run\n";
  return out.str();
}

std::string Report::json() const {
  std::ostringstream out;
  out << "{\n  \"provider\": " << json_string(provider) << ",\n  \"devices\": [";
  for (size_t i = 0; i < devices.size(); ++i) out << (i ? ", " : "") << json_string(devices[i]);
  out << "],\n  \"passed\": " << (passed() ? "true" : "false") << ",\n  \"checks\": [\n";
  for (size_t i = 0; i < checks.size(); ++i) {
    const Check& c = checks[i];
    out << "    {\"group\": " << json_string(c.group) << ", \"name\": " << json_string(c.name)
        << ", \"result\": " << json_string(to_string(c.outcome)) << ", \"detail\": " << json_string(c.detail);
    if (c.has_value) {
      out << ", \"value\": " << number(c.value) << ", \"unit\": " << json_string(c.unit)
          << ", \"threshold\": " << number(c.threshold);
    }
    out << "}" << (i + 1 < checks.size() ? "," : "") << "\n";
  }
  out << "  ]\n}\n";
  return out.str();
}

}  // namespace ferry::qualify
