#include "tools/ferry/report/html_report.h"

namespace ferry::report {

std::string to_html(const replay::ReplayReport& report) {
  return "<!doctype html><title>" + report.scenario + "</title>";
}

}  // namespace ferry::report
