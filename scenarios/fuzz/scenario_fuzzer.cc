// libFuzzer entry point for the scenario parser (tools/fuzz.sh builds it with clang and
// runs it; fuzz_corpus_test replays the corpus through it under Bazel's own toolchain).
//
// The input is the file; its length picks the scale (the parser's other input), so that
// seed files parse as they are and the fuzzer still reaches every scale.
// Whatever the input, the parser must return either a scenario or errors, never both and
// never neither, each error naming the file on one line with a message. A broken
// invariant aborts, which the fuzzer reports with the input that caused it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "scenarios/scenario_parser.h"

namespace {

void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "scenario parser invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::scenarios;
  constexpr double kScales[] = {1, 0.001, 1000, 1e-9};
  const double scale = kScales[size % 4];
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ScenarioParse parsed = parse_scenario(text, "fuzz.yaml", {.scale = scale});
  check(parsed.ok() == parsed.scenario.has_value(), "a scenario exactly when there are no errors");
  for (const Diagnostic& error : parsed.errors) {
    check(error.file == "fuzz.yaml", "every error names the file");
    check(!error.message.empty(), "every error has a message");
    check(error.to_string().find('\n') == std::string::npos, "every error is one line");
  }
  return 0;
}
