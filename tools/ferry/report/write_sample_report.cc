// Writes report.html for one of the synthetic reports (sample_reports.h), for the
// headless-browser test: write_sample_report NAME FILE.
#include <cstdio>
#include <fstream>
#include <string>

#include "tools/ferry/report/html_report.h"
#include "tools/ferry/report/sample_reports.h"

int main(int argc, char** argv) {
  ferry::replay::ReplayReport report;
  if (argc != 3 || !ferry::report::sample_report_by_name(argv[1], &report)) {
    std::string names;
    for (const std::string& name : ferry::report::sample_report_names()) names += " " + name;
    std::fprintf(stderr, "usage: write_sample_report NAME FILE\n  NAME: one of%s\n", names.c_str());
    return 2;
  }
  std::ofstream out(argv[2], std::ios::binary);
  out << ferry::report::to_html(report);
  out.close();
  if (!out) {
    std::fprintf(stderr, "write_sample_report: cannot write %s\n", argv[2]);
    return 1;
  }
  return 0;
}
