#include "scenarios/units.h"

#include <gtest/gtest.h>

namespace ferry::scenarios {
namespace {

TEST(Sizes, BareNumbersAreBytesAndPrefixesAreDecimalOrBinary) {
  EXPECT_EQ(parse_size("4096").value, 4096u);
  EXPECT_EQ(parse_size("4 KiB").value, 4096u);
  EXPECT_EQ(parse_size("4KiB").value, 4096u);
  EXPECT_EQ(parse_size("4 KB").value, 4000u);
  EXPECT_EQ(parse_size("4 kB").value, 4000u);
  EXPECT_EQ(parse_size("1.5 GB").value, 1'500'000'000u);
  EXPECT_EQ(parse_size("1.5 KiB").value, 1536u);
  EXPECT_EQ(parse_size("2 TiB").value, uint64_t{2} << 40);
  EXPECT_EQ(parse_size("  7 B  ").value, 7u);
  EXPECT_EQ(parse_size("1e3").value, 1000u);
  EXPECT_EQ(parse_size("0").value, 0u);
  // Exact beyond a double's 53 bits.
  EXPECT_EQ(parse_size("18446744073709551615").value, 18446744073709551615u);
}

TEST(Sizes, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(parse_size("lots").error, "expected a size such as \"4 KiB\" or \"1.5 GB\", got 'lots'");
  EXPECT_EQ(parse_size("-4 KiB").error, "a size cannot be negative, got '-4 KiB'");
  EXPECT_EQ(parse_size("4 Kib").error, "unknown size unit 'Kib' in '4 Kib' (did you mean 'KiB'?)");
  EXPECT_EQ(parse_size("4 parsecs").error,
            "unknown size unit 'parsecs' in '4 parsecs' (expected one of: B, KB, kB, MB, GB, TB, KiB, MiB, GiB, "
            "TiB)");
  EXPECT_EQ(parse_size("1.3 B").error, "'1.3 B' is not a whole number of bytes");
  EXPECT_EQ(parse_size("18446744073709551616").error, "'18446744073709551616' is too large");
  EXPECT_EQ(parse_size("20000000 TiB").error, "'20000000 TiB' is too large");
  EXPECT_EQ(parse_size("1.2.3 KB").error, "expected a size such as \"4 KiB\" or \"1.5 GB\", got '1.2.3 KB'");
  EXPECT_EQ(parse_size("").error, "expected a size such as \"4 KiB\" or \"1.5 GB\", got ''");
}

TEST(Rates, AreGigabitsPerSecondAndNeedAUnit) {
  EXPECT_DOUBLE_EQ(*parse_rate_gbps("200 Gb/s").value, 200);
  EXPECT_DOUBLE_EQ(*parse_rate_gbps("400Gbps").value, 400);
  EXPECT_DOUBLE_EQ(*parse_rate_gbps("25 GB/s").value, 200);  // bytes
  EXPECT_DOUBLE_EQ(*parse_rate_gbps("40 Mb/s").value, 0.04);
  EXPECT_DOUBLE_EQ(*parse_rate_gbps("3.2 Tb/s").value, 3200);
  EXPECT_EQ(parse_rate_gbps("200").error,
            "a rate needs a unit (Kb/s, Mb/s, Gb/s, Tb/s, Kbps, Mbps, Gbps, Tbps, Mbit/s, Gbit/s, Tbit/s, KB/s, "
            "MB/s, GB/s, TB/s), got '200'");
  EXPECT_EQ(parse_rate_gbps("200 Gbs").error, "unknown rate unit 'Gbs' in '200 Gbs' (did you mean 'Gb/s'?)");
  EXPECT_EQ(parse_rate_gbps("-1 Gb/s").error, "a rate cannot be negative, got '-1 Gb/s'");
  EXPECT_EQ(parse_rate_gbps("fast").error, "expected a rate such as \"200 Gb/s\", got 'fast'");
}

TEST(Durations, AreWholeNanosecondsAndNeedAUnit) {
  EXPECT_EQ(parse_duration_ns("1.5 ms").value, 1'500'000u);
  EXPECT_EQ(parse_duration_ns("200 us").value, 200'000u);
  EXPECT_EQ(parse_duration_ns("200 \xC2\xB5s").value, 200'000u);  // MICRO SIGN
  EXPECT_EQ(parse_duration_ns("200 \xCE\xBCs").value, 200'000u);  // GREEK SMALL LETTER MU
  EXPECT_EQ(parse_duration_ns("2 s").value, 2'000'000'000u);
  EXPECT_EQ(parse_duration_ns("500ns").value, 500u);
  EXPECT_EQ(parse_duration_ns("5").error, "a duration needs a unit (ns, us, \xC2\xB5s, \xCE\xBCs, ms, s), got '5'");
  EXPECT_EQ(parse_duration_ns("0.5 ns").error, "'0.5 ns' is not a whole number of nanoseconds");
  EXPECT_EQ(parse_duration_ns("3 min").error, "unknown duration unit 'min' in '3 min' (did you mean 'ms'?)");
}

TEST(TokenCounts, TakeBinaryThousandsAsContextLengthsAreQuoted) {
  EXPECT_EQ(parse_token_count("4096").value, 4096u);
  EXPECT_EQ(parse_token_count("128k").value, 131'072u);
  EXPECT_EQ(parse_token_count("128K").value, 131'072u);
  EXPECT_EQ(parse_token_count("1.5k").value, 1536u);
  EXPECT_EQ(parse_token_count("1M").value, 1'048'576u);
  EXPECT_EQ(parse_token_count("0.3k").error, "'0.3k' is not a whole number of tokens");
  EXPECT_EQ(parse_token_count("12 tokens").error,
            "unknown token count unit 'tokens' in '12 tokens' (expected one of: k, K, M)");
}

TEST(WholeAndRealNumbers, RefuseUnits) {
  EXPECT_EQ(parse_whole("8").value, 8u);
  EXPECT_EQ(parse_whole("8.0").value, 8u);
  EXPECT_EQ(parse_whole("8 GPUs").error, "expected a whole number such as \"8\", got '8 GPUs'");
  EXPECT_EQ(parse_whole("2.5").error, "expected a whole number such as \"8\", got '2.5'");
  EXPECT_EQ(parse_whole("-3").error, "a whole number cannot be negative, got '-3'");
  EXPECT_DOUBLE_EQ(*parse_real("1e-4").value, 1e-4);
  EXPECT_DOUBLE_EQ(*parse_real("-0.5").value, -0.5);
  EXPECT_EQ(parse_real("nan").error, "expected a number such as \"0.5\" or \"1e-4\", got 'nan'");
  EXPECT_EQ(parse_real("inf").error, "expected a number such as \"0.5\" or \"1e-4\", got 'inf'");
  EXPECT_EQ(parse_real("1e999").error, "expected a number such as \"0.5\" or \"1e-4\", got '1e999'");
}

TEST(Formatting, ReadsLikeTheInput) {
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(327'680), "320 KiB");
  EXPECT_EQ(format_bytes(70'272), "68.6 KiB");
  EXPECT_EQ(format_bytes(uint64_t{3} << 39), "1.5 TiB");
  EXPECT_EQ(format_rate(200), "200 Gb/s");
  EXPECT_EQ(format_rate(0.04), "40 Mb/s");
  EXPECT_EQ(format_rate(3200), "3.2 Tb/s");
  EXPECT_EQ(format_duration(800), "800 ns");
  EXPECT_EQ(format_duration(1'500'000), "1.5 ms");
  EXPECT_EQ(format_grouped(327'680), "327,680");
  EXPECT_EQ(format_grouped(12), "12");
  EXPECT_EQ(format_parameter_count(70'552'387'584), "70.6 billion");
  EXPECT_EQ(format_parameter_count(1'026'407'202'816), "1.03 trillion");
}

}  // namespace
}  // namespace ferry::scenarios
