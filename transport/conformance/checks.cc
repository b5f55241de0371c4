#include "transport/conformance/checks.h"

#include <exception>

#include "transport/conformance/env.h"
#include "transport/conformance/registry.h"

namespace ferry::conformance {

const std::vector<Check>& all_checks() {
  static const std::vector<Check> checks = [] {
    std::vector<Check> out;
    add_operation_checks(out);
    add_ordering_checks(out);
    add_refusal_checks(out);
    add_queue_checks(out);
    add_setup_checks(out);
    add_fault_checks(out);
    return out;
  }();
  return checks;
}

const Check* find_check(const std::string& name) {
  for (const Check& check : all_checks()) {
    if (check.name == name) return &check;
  }
  return nullptr;
}

Outcome run(const Check& check, const Nodes& setup) {
  try {
    Env env(setup);
    check.body(env);
    return {Verdict::kPass, ""};
  } catch (const CheckFailed& f) {
    return {Verdict::kFail, f.detail};
  } catch (const CheckSkipped& s) {
    return {Verdict::kSkip, s.reason};
  } catch (const std::exception& e) {
    return {Verdict::kFail, std::string("exception: ") + e.what()};
  }
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass: return "pass";
    case Verdict::kFail: return "fail";
    case Verdict::kSkip: return "skip";
  }
  return "?";
}

}  // namespace ferry::conformance
