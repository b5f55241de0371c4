// What every message is built from: places, quoting, and "did you mean".
#include "scenarios/diagnostics.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "scenarios/suggest.h"

namespace ferry::scenarios {
namespace {

TEST(Diagnostics, FormatsWithAndWithoutAPlace) {
  EXPECT_EQ((Diagnostic{"a.yaml", {3, 7}, "wrong"}.to_string()), "a.yaml:3:7: wrong");
  EXPECT_EQ((Diagnostic{"a.yaml", {}, "cannot read"}.to_string()), "a.yaml: cannot read");
}

TEST(Diagnostics, SortsByPlaceKeepingTheOrderOfEquals) {
  Diagnostics diagnostics("f");
  diagnostics.error({5, 1}, "c");
  diagnostics.error({2, 9}, "a");
  diagnostics.error({5, 1}, "d");
  diagnostics.error({2, 10}, "b");
  std::vector<std::string> messages;
  for (const Diagnostic& d : diagnostics.take_sorted()) messages.push_back(d.message);
  EXPECT_EQ(messages, (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(QuoteValue, EscapesControlCharactersAndCutsLongValuesOnCharacterBoundaries) {
  EXPECT_EQ(quote_value("plain"), "'plain'");
  EXPECT_EQ(quote_value(std::string_view("a\tb\0c", 5)), "'a\\x09b\\x00c'");
  EXPECT_EQ(quote_value(std::string(100, 'x')), "'" + std::string(60, 'x') + "...'");
  // 59 ASCII bytes then a two-byte character: the cut falls before it, not inside it.
  const std::string text = std::string(59, 'x') + "\xC2\xB5" + "tail";
  EXPECT_EQ(quote_value(text), "'" + std::string(59, 'x') + "...'");
}

TEST(Suggest, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("gpu_per_node", "gpus_per_node"), 1u);
}

TEST(Suggest, OnlyNearWordsAreSuggested) {
  const std::vector<std::string_view> keys = {"nodes", "gpus_per_node", "nic_rate"};
  EXPECT_EQ(closest_match("gpu_per_node", keys), "gpus_per_node");
  EXPECT_EQ(closest_match("node", keys), "nodes");
  EXPECT_EQ(closest_match("xy", keys), std::nullopt);        // as many edits as letters
  EXPECT_EQ(closest_match("topology", keys), std::nullopt);  // too far from all
  EXPECT_EQ(closest_match(std::string(100, 'n'), keys), std::nullopt);
  EXPECT_EQ(suggestion_suffix("nods", keys), " (did you mean 'nodes'?)");
  EXPECT_EQ(suggestion_suffix("zzz", keys), " (expected one of: nodes, gpus_per_node, nic_rate)");
}

}  // namespace
}  // namespace ferry::scenarios
