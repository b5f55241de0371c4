// Seeded fuzzing of the parser: random bytes, and the shipped scenarios mutated. Whatever
// the input, the parser returns either a scenario or errors, never both and never
// neither, every error names the file and has a message, and nothing crashes (this test
// also runs under AddressSanitizer and UndefinedBehaviorSanitizer).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "scenarios/scenario_parser.h"
#include "scenarios/units.h"
#include "transport/random.h"

namespace ferry::scenarios {
namespace {

// The splitmix64 sequence: seeded, the same everywhere.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() { return splitmix64_next(state_); }
  size_t below(size_t n) { return n == 0 ? 0 : next() % n; }

 private:
  uint64_t state_;
};

void expect_well_formed(const ScenarioParse& parsed, std::string_view input) {
  ASSERT_EQ(parsed.ok(), parsed.scenario.has_value()) << input;
  for (const Diagnostic& error : parsed.errors) {
    EXPECT_EQ(error.file, "fuzz.yaml");
    EXPECT_FALSE(error.message.empty());
    EXPECT_EQ(error.to_string().find('\n'), std::string::npos) << error.to_string();
  }
}

void parse_and_check(std::string_view input, double scale = 1) {
  expect_well_formed(parse_scenario(input, "fuzz.yaml", {.scale = scale}), input);
}

std::vector<std::string> shipped_texts() {
  std::vector<std::string> texts;
  for (const auto& entry : std::filesystem::directory_iterator("scenarios")) {
    if (entry.path().extension() != ".yaml") continue;
    std::ifstream file(entry.path());
    std::stringstream text;
    text << file.rdbuf();
    texts.push_back(text.str());
  }
  std::sort(texts.begin(), texts.end());
  return texts;
}

// Characters that matter to YAML and to the value readers.
constexpr std::string_view kSpecial = ":-[]{},#&*!|>'\"%@`?\n\t 0123456789.eE+kKMGBbs/\xC2\xB5";
const std::vector<std::string> kOddValues = {
    "-1",   "0",       "1e308", "-0",   "nan",    "inf",   "99999999999999999999999", "4 KiB",     "1.5",
    "~",    "[]",      "{}",    "\"\"", "1e-400", "65536", "18446744073709551616",    "0.0000001", "*a",
    "&a x", "!!int 3", "|\n  x"};

std::string mutate(std::string text, Random& random, const std::vector<std::string>& others) {
  const size_t edits = 1 + random.below(4);
  for (size_t e = 0; e < edits && !text.empty(); ++e) {
    const size_t at = random.below(text.size());
    switch (random.below(6)) {
      case 0:  // one character changed
        text[at] = random.below(2) == 0 ? kSpecial[random.below(kSpecial.size())] : static_cast<char>(random.next());
        break;
      case 1:  // a span deleted
        text.erase(at, random.below(40));
        break;
      case 2:  // a span repeated
        text.insert(at, text.substr(at, random.below(80)));
        break;
      case 3: {  // a line of another scenario spliced in
        const std::string& other = others[random.below(others.size())];
        const size_t from = other.find('\n', random.below(other.size()));
        if (from != std::string::npos) text.insert(at, other.substr(from, other.find('\n', from + 1) - from));
        break;
      }
      case 4: {  // a value replaced by an odd one
        const size_t colon = text.find(": ", at);
        if (colon != std::string::npos) {
          const size_t end = text.find_first_of("\n,}", colon + 2);
          text.replace(colon + 2, end == std::string::npos ? std::string::npos : end - colon - 2,
                       kOddValues[random.below(kOddValues.size())]);
        }
        break;
      }
      default:  // cut short
        text.resize(at);
        break;
    }
  }
  return text;
}

TEST(ScenarioFuzz, RandomBytes) {
  Random random(20260101);
  for (int i = 0; i < 5000; ++i) {
    std::string input(random.below(400), '\0');
    for (char& c : input) {
      c = random.below(3) == 0 ? kSpecial[random.below(kSpecial.size())] : static_cast<char>(random.next());
    }
    parse_and_check(input);
  }
}

TEST(ScenarioFuzz, MutatedShippedScenarios) {
  const std::vector<std::string> texts = shipped_texts();
  ASSERT_FALSE(texts.empty());
  Random random(7);
  size_t still_valid = 0;
  for (const std::string& text : texts) {
    for (int i = 0; i < 1500; ++i) {
      const std::string input = mutate(text, random, texts);
      const double scale = std::vector<double>{1, 0.001, 1000, 1e-9}[random.below(4)];
      const ScenarioParse parsed = parse_scenario(input, "fuzz.yaml", {.scale = scale});
      expect_well_formed(parsed, input);
      still_valid += parsed.ok();
    }
  }
  // The mutations must reach past the YAML layer into the value checks.
  EXPECT_GT(still_valid, 0u);
  EXPECT_LT(still_valid, texts.size() * 1500);
}

TEST(ScenarioFuzz, UnitParsersAnswerEveryString) {
  Random random(99);
  for (int i = 0; i < 20000; ++i) {
    std::string input(random.below(16), '\0');
    for (char& c : input) c = kSpecial[random.below(kSpecial.size())];
    for (const auto& outcome :
         {parse_size(input), parse_duration_ns(input), parse_token_count(input), parse_whole(input)}) {
      EXPECT_NE(outcome.value.has_value(), !outcome.error.empty()) << input;
    }
    const UnitParse<double> rate = parse_rate_gbps(input);
    EXPECT_NE(rate.value.has_value(), !rate.error.empty()) << input;
  }
}

}  // namespace
}  // namespace ferry::scenarios
