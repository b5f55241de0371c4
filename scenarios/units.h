// Quantities with units: sizes, rates, durations and token counts, read from scenario
// text and printed back. Every unit the scenario format knows is listed in units.cc,
// once; docs/scenarios.md lists them for users.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry::scenarios {

// A parsed quantity, or why the text is not one (a sentence naming the accepted forms,
// without the field name: the caller adds it).
template <typename T>
struct UnitParse {
  std::optional<T> value;
  std::string error;
};

// "4096", "4 KiB", "1.5 GB": bytes. A bare number is bytes; KB, MB, GB, TB are powers of
// 1000 and KiB, MiB, GiB, TiB powers of 1024. The result must be a whole number of bytes.
UnitParse<uint64_t> parse_size(std::string_view text);

// "200 Gb/s", "400 Gbps", "25 GB/s": in Gb/s. The unit is required (bits and bytes are
// too easy to confuse to guess).
UnitParse<double> parse_rate_gbps(std::string_view text);

// "1.5 ms", "200 us", "200 µs", "2 s": whole nanoseconds. The unit is required.
UnitParse<uint64_t> parse_duration_ns(std::string_view text);

// "4096", "128k", "1.5k", "1M": tokens. k is 1024 and M is 1024², as context lengths are
// quoted (a 128k context is 131,072 tokens).
UnitParse<uint64_t> parse_token_count(std::string_view text);

// "8": a whole number without a unit.
UnitParse<uint64_t> parse_whole(std::string_view text);

// "0.25", "1e-4", "-3": a finite real number without a unit.
UnitParse<double> parse_real(std::string_view text);

// Printing, for summaries and messages.
std::string format_bytes(uint64_t bytes);            // "512 B", "320 KiB", "1.31 TiB"
std::string format_rate(double gbps);                // "200 Gb/s", "40 Mb/s", "3.2 Tb/s"
std::string format_duration(uint64_t ns);            // "800 ns", "1.5 ms", "2 s"
std::string format_grouped(uint64_t value);          // "327,680"
std::string format_real(double value);               // "0.25", "1e-05", shortest that reads back
std::string format_parameter_count(uint64_t count);  // "70.6 billion", "1.03 trillion"

}  // namespace ferry::scenarios
