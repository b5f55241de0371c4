// ferry diff BASELINE REPORT: what changed between two replay reports, in a table.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tools/ferry/command.h"
#include "tools/ferry/exit_codes.h"
#include "tools/ferry/help.h"
#include "transport/json/json_value.h"
#include "transport/result.h"

namespace ferry::cli {
namespace {

using json::JsonParse;
using json::JsonValue;
using json::parse_json;

constexpr size_t kMaxReportBytes = 256u << 20;

// Figures that differ from run to run by nature and are compared only with --wall.
bool is_wall_time(const std::string& key) { return key == "wall_s"; }
// Numbers that say which run it was, not how it went: shown, never judged.
bool is_identity(const std::string& key) { return key == "seed"; }

Result<JsonValue> read_report(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, path + ": cannot read");
  std::string text;
  text.resize(kMaxReportBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxReportBytes) {
    return make_error(ErrorCode::kOutOfRange, path + ": larger than 256 MiB; not a replay report");
  }
  JsonParse parsed = parse_json(text);
  if (!parsed.value) return make_error(ErrorCode::kInvalidArgument, path + ":" + parsed.error);
  const JsonValue* workloads = parsed.value->find("workloads");
  if (!workloads || workloads->type != JsonValue::Type::kArray) {
    return make_error(ErrorCode::kInvalidArgument,
                      path + ": not a replay report (no \"workloads\" list; write one with 'ferry replay')");
  }
  return std::move(*parsed.value);
}

struct Row {
  std::string where;   // "(run)" or the workload's name
  std::string figure;
  std::string baseline, report;
  std::string change;  // "+12.5%", "differs", ...
  bool differs = false;
  bool beyond = false;  // counts against the tolerance
};

class Differ {
 public:
  Differ(double tolerance, bool all, bool wall) : tolerance_(tolerance), all_(all), wall_(wall) {}

  // Compares the scalar members of two objects (and the lengths of their lists).
  void compare(const std::string& where, const JsonValue& a, const JsonValue& b) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : a.members) keys.push_back(k);
    for (const auto& [k, v] : b.members) {
      if (!a.find(k)) keys.push_back(k);
    }
    for (const std::string& key : keys) {
      if (key == "workloads" || key == "name" || (is_wall_time(key) && !wall_)) continue;
      const JsonValue* x = a.find(key);
      const JsonValue* y = b.find(key);
      if (!x || !y) {
        add({where, key, x ? x->display() : "-", y ? y->display() : "-", "only in one", true, false});
        continue;
      }
      if (x->type == JsonValue::Type::kObject || y->type == JsonValue::Type::kObject) continue;
      if (x->type == JsonValue::Type::kArray || y->type == JsonValue::Type::kArray) {
        compare_counts(where, key, *x, *y);
        continue;
      }
      if (x->type == JsonValue::Type::kNumber && y->type == JsonValue::Type::kNumber) {
        compare_numbers(where, key, *x, *y);
        continue;
      }
      const bool differs = x->type != y->type || x->display() != y->display();
      // A verdict that changed counts; names, modes and hashes are shown, not judged.
      const bool verdict = x->type == JsonValue::Type::kBool || y->type == JsonValue::Type::kBool;
      add({where, key, x->display(), y->display(), differs ? "differs" : "", differs, differs && verdict});
    }
  }

  void only_in(const std::string& which, const std::string& name) {
    add({name, "(workload)", which == "baseline" ? "present" : "-", which == "report" ? "present" : "-",
         "only in " + which, true, true});
  }

  const std::vector<Row>& rows() const { return rows_; }
  size_t differing() const { return differing_; }
  size_t beyond() const { return beyond_; }

 private:
  void compare_counts(const std::string& where, const std::string& key, const JsonValue& x, const JsonValue& y) {
    const size_t n = x.items.size(), m = y.items.size();
    const bool differs = n != m;
    // More errors is a regression whatever the tolerance.
    const bool judged = key == "errors" && m > n;
    add({where, key + " (count)", std::to_string(n), std::to_string(m), differs ? "differs" : "", differs, judged});
  }

  void compare_numbers(const std::string& where, const std::string& key, const JsonValue& x, const JsonValue& y) {
    const bool differs = x.number != y.number;
    std::string change;
    bool beyond = false;
    if (differs) {
      if (x.number == 0) {
        change = "from 0";
        beyond = true;
      } else {
        const double percent = (y.number - x.number) / std::fabs(x.number) * 100;
        char buf[32];
        std::snprintf(buf, sizeof buf, "%+.1f%%", percent);
        change = buf;
        beyond = std::fabs(percent) > tolerance_;
      }
    }
    if (is_identity(key)) beyond = false;
    add({where, key, x.text, y.text, change, differs, beyond});
  }

  void add(Row row) {
    differing_ += row.differs;
    beyond_ += row.beyond;
    if (row.differs || all_) rows_.push_back(std::move(row));
  }

  double tolerance_;
  bool all_, wall_;
  std::vector<Row> rows_;
  size_t differing_ = 0, beyond_ = 0;
};

std::string name_of(const JsonValue& workload) {
  const JsonValue* name = workload.find("name");
  return name && name->type == JsonValue::Type::kString ? name->text : "?";
}

const JsonValue* workload_named(const JsonValue& report, const std::string& name) {
  for (const JsonValue& w : report.find("workloads")->items) {
    if (name_of(w) == name) return &w;
  }
  return nullptr;
}

std::string clip(const std::string& s, size_t width) {
  return s.size() <= width ? s : s.substr(0, width - 3) + "...";
}

int run_diff(const ParsedArguments& arguments) {
  double tolerance = 5;
  if (const std::string* text = arguments.value("--tolerance")) {
    char* end = nullptr;
    tolerance = std::strtod(text->c_str(), &end);
    if (text->empty() || *end != '\0' || !std::isfinite(tolerance) || tolerance < 0) {
      return usage_error("diff", "--tolerance: '" + *text + "' is not a non-negative percentage");
    }
  }
  const std::string& baseline_path = arguments.operands[0];
  const std::string& report_path = arguments.operands[1];
  const Result<JsonValue> baseline = read_report(baseline_path);
  if (!baseline.ok()) return std::fprintf(stderr, "ferry diff: %s\n", baseline.error().message.c_str()), kExitFailed;
  const Result<JsonValue> report = read_report(report_path);
  if (!report.ok()) return std::fprintf(stderr, "ferry diff: %s\n", report.error().message.c_str()), kExitFailed;

  Differ differ(tolerance, arguments.has("--all"), arguments.has("--wall"));
  differ.compare("(run)", *baseline, *report);
  for (const JsonValue& w : baseline->find("workloads")->items) {
    const JsonValue* other = workload_named(*report, name_of(w));
    if (other) {
      differ.compare(name_of(w), w, *other);
    } else {
      differ.only_in("baseline", name_of(w));
    }
  }
  for (const JsonValue& w : report->find("workloads")->items) {
    if (!workload_named(*baseline, name_of(w))) differ.only_in("report", name_of(w));
  }

  std::printf("baseline: %s\nreport:   %s\n", baseline_path.c_str(), report_path.c_str());
  if (!differ.rows().empty()) {
    std::printf("\n%-16s %-22s %20s %20s %10s\n", "workload", "figure", "baseline", "report", "change");
    for (const Row& row : differ.rows()) {
      std::printf("%-16s %-22s %20s %20s %10s%s\n", clip(row.where, 16).c_str(), clip(row.figure, 22).c_str(),
                  clip(row.baseline, 20).c_str(), clip(row.report, 20).c_str(), row.change.c_str(),
                  row.beyond ? "  !" : "");
    }
  }
  std::printf("\n%zu figure%s differ, %zu beyond the tolerance of %g%% (marked !)\n", differ.differing(),
              differ.differing() == 1 ? "" : "s", differ.beyond(), tolerance);
  return differ.beyond() == 0 ? kExitOk : kExitFailed;
}

}  // namespace

Command diff_command() {
  CommandSpec spec;
  spec.name = "diff";
  spec.operands = "BASELINE REPORT";
  spec.min_operands = 2;
  spec.max_operands = 2;
  spec.summary = "compare two replay reports";
  spec.description =
      "Compares two report.json files written by 'ferry replay' (for instance the same scenario on emu and on "
      "sim, two seeds, or before and after a change): the run's figures, then each workload's, matched by "
      "name. Prints one row per figure that differs, with both values and the relative change, and marks "
      "with '!' the differences that count: a number that changed by more than the tolerance (or from 0), a "
      "verdict (ok, completed) that changed, more errors, a workload present in only one report. Names, "
      "modes, seeds and trace hashes are shown when they differ but do not count. Wall-clock times are left out "
      "unless --wall is given; lists are compared by their length.";
  spec.options = {
      {"--tolerance", "PERCENT", "a number differing by more than PERCENT percent counts (default 5)"},
      {"--all", "", "also list the figures that are equal"},
      {"--wall", "", "also compare wall-clock times (they vary from run to run)"},
  };
  spec.exit_ok = "no difference counts (every number within the tolerance, the same verdicts and workloads)";
  spec.exit_failed = "a difference counts, or a report cannot be read (the message names the file, line and column)";
  return Command{spec, run_diff};
}

}  // namespace ferry::cli
