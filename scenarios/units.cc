#include "scenarios/units.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <span>
#include <vector>

#include "scenarios/diagnostics.h"
#include "scenarios/suggest.h"

namespace ferry::scenarios {
namespace {

struct WholeUnit {
  std::string_view name;
  uint64_t factor;
};

struct RealUnit {
  std::string_view name;
  double factor;
};

constexpr WholeUnit kSizeUnits[] = {
    {"B", 1},
    {"KB", 1'000},
    {"kB", 1'000},
    {"MB", 1'000'000},
    {"GB", 1'000'000'000},
    {"TB", 1'000'000'000'000},
    {"KiB", uint64_t{1} << 10},
    {"MiB", uint64_t{1} << 20},
    {"GiB", uint64_t{1} << 30},
    {"TiB", uint64_t{1} << 40},
};

constexpr WholeUnit kDurationUnits[] = {
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // µs, MICRO SIGN
    {"\xCE\xBCs", 1'000},  // μs, GREEK SMALL LETTER MU
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
};

constexpr WholeUnit kTokenUnits[] = {
    {"k", 1024},
    {"K", 1024},
    {"M", 1024 * 1024},
};

// To Gb/s. Lower-case b is bits, upper-case B bytes.
constexpr RealUnit kRateUnits[] = {
    {"Kb/s", 1e-6},  {"Mb/s", 1e-3}, {"Gb/s", 1},    {"Tb/s", 1e3},    {"Kbps", 1e-6},
    {"Mbps", 1e-3},  {"Gbps", 1},    {"Tbps", 1e3},  {"Mbit/s", 1e-3}, {"Gbit/s", 1},
    {"Tbit/s", 1e3}, {"KB/s", 8e-6}, {"MB/s", 8e-3}, {"GB/s", 8},      {"TB/s", 8e3},
};

// How one kind of whole quantity reads and what its messages say.
struct WholeKind {
  std::string_view what;     // "a size"
  std::string_view example;  // "\"4 KiB\" or \"1.5 GB\""
  std::string_view whole;    // "bytes": what the result counts
  std::span<const WholeUnit> units;
  bool unit_required;
};

constexpr WholeKind kSize{"a size", "\"4 KiB\" or \"1.5 GB\"", "bytes", kSizeUnits, false};
constexpr WholeKind kDuration{"a duration", "\"1.5 ms\" or \"200 us\"", "nanoseconds", kDurationUnits, true};
constexpr WholeKind kTokens{"a token count", "\"4096\" or \"128k\"", "tokens", kTokenUnits, false};
constexpr WholeKind kWhole{"a whole number", "\"8\"", "", {}, false};

// "1.5 KiB" split into its number and its unit.
struct NumberText {
  bool negative = false;
  std::string_view digits;  // "1.5"
  std::string_view unit;    // "KiB", or empty
};

std::string_view trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::optional<NumberText> split_number(std::string_view text) {
  text = trim(text);
  NumberText out;
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) out.negative = text[i++] == '-';
  const size_t start = i;
  bool any_digit = false;
  while (i < text.size() && (is_digit(text[i]) || text[i] == '.')) any_digit |= is_digit(text[i++]);
  if (!any_digit) return std::nullopt;
  // An exponent only when digits follow it, so that no unit is mistaken for one.
  if (i + 1 < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    if (j < text.size() && is_digit(text[j])) {
      while (j < text.size() && is_digit(text[j])) ++j;
      i = j;
    }
  }
  out.digits = text.substr(start, i - start);
  out.unit = trim(text.substr(i));
  return out;
}

// The number's value; nullopt when it does not read as one (e.g. "1.2.3").
std::optional<double> real_value(std::string_view digits) {
  double value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec != std::errc() || end != digits.data() + digits.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

bool all_digits(std::string_view text) {
  for (char c : text) {
    if (!is_digit(c)) return false;
  }
  return true;
}

template <typename Unit>
std::vector<std::string_view> unit_names(std::span<const Unit> units) {
  std::vector<std::string_view> names;
  for (const Unit& unit : units) names.push_back(unit.name);
  return names;
}

template <typename Unit>
const Unit* find_unit(std::span<const Unit> units, std::string_view name) {
  for (const Unit& unit : units) {
    if (unit.name == name) return &unit;
  }
  return nullptr;
}

template <typename T>
UnitParse<T> failure(std::string error) {
  return UnitParse<T>{std::nullopt, std::move(error)};
}

std::string expected(std::string_view what, std::string_view example, std::string_view text) {
  return "expected " + std::string(what) + " such as " + std::string(example) + ", got " + quote_value(text);
}

template <typename Unit>
std::string unknown_unit(std::string_view what, std::string_view unit, std::string_view text,
                         std::span<const Unit> units) {
  // "a size" -> "size unit"
  const std::string_view noun = what.substr(what.find(' ') + 1);
  return "unknown " + std::string(noun) + " unit " + quote_value(unit) + " in " + quote_value(text) +
         suggestion_suffix(unit, unit_names(units));
}

UnitParse<uint64_t> parse_whole_quantity(std::string_view text, const WholeKind& kind) {
  const std::optional<NumberText> number = split_number(text);
  if (!number || (kind.units.empty() && !number->unit.empty())) {
    return failure<uint64_t>(expected(kind.what, kind.example, text));
  }
  if (number->negative) {
    return failure<uint64_t>(std::string(kind.what) + " cannot be negative, got " + quote_value(text));
  }
  uint64_t factor = 1;
  if (number->unit.empty()) {
    if (kind.unit_required) {
      return failure<uint64_t>(std::string(kind.what) + " needs a unit (" + join_names(unit_names(kind.units)) +
                               "), got " + quote_value(text));
    }
  } else if (const WholeUnit* unit = find_unit(kind.units, number->unit)) {
    factor = unit->factor;
  } else {
    return failure<uint64_t>(unknown_unit(kind.what, number->unit, text, kind.units));
  }
  const std::string too_large = quote_value(text) + " is too large";
  if (all_digits(number->digits)) {  // exact, beyond the 53 bits of a double
    uint64_t whole = 0;
    const auto [end, ec] = std::from_chars(number->digits.data(), number->digits.data() + number->digits.size(), whole);
    if (ec != std::errc() || end != number->digits.data() + number->digits.size()) {
      return failure<uint64_t>(too_large);
    }
    uint64_t product = 0;
    if (__builtin_mul_overflow(whole, factor, &product)) return failure<uint64_t>(too_large);
    return UnitParse<uint64_t>{product, {}};
  }
  const std::optional<double> real = real_value(number->digits);
  if (!real) return failure<uint64_t>(expected(kind.what, kind.example, text));
  const double product = *real * static_cast<double>(factor);
  if (product >= 18446744073709551616.0) return failure<uint64_t>(too_large);
  const double rounded = std::nearbyint(product);
  if (std::fabs(product - rounded) > 1e-9 * std::max(1.0, product)) {
    if (kind.whole.empty()) return failure<uint64_t>(expected(kind.what, kind.example, text));
    return failure<uint64_t>(quote_value(text) + " is not a whole number of " + std::string(kind.whole));
  }
  return UnitParse<uint64_t>{static_cast<uint64_t>(rounded), {}};
}

// Up to three significant digits, without trailing zeros: 1.31, 68.6, 320.
std::string three_digits(double value) {
  char text[32];
  std::snprintf(text, sizeof text, value >= 100 ? "%.0f" : value >= 10 ? "%.1f" : "%.2f", value);
  std::string out = text;
  if (out.find('.') != std::string::npos) {
    while (out.back() == '0') out.pop_back();
    if (out.back() == '.') out.pop_back();
  }
  return out;
}

}  // namespace

UnitParse<uint64_t> parse_size(std::string_view text) { return parse_whole_quantity(text, kSize); }

UnitParse<uint64_t> parse_duration_ns(std::string_view text) { return parse_whole_quantity(text, kDuration); }

UnitParse<uint64_t> parse_token_count(std::string_view text) { return parse_whole_quantity(text, kTokens); }

UnitParse<uint64_t> parse_whole(std::string_view text) { return parse_whole_quantity(text, kWhole); }

UnitParse<double> parse_rate_gbps(std::string_view text) {
  constexpr std::string_view kWhat = "a rate", kExample = "\"200 Gb/s\"";
  const std::optional<NumberText> number = split_number(text);
  const std::optional<double> real = number ? real_value(number->digits) : std::nullopt;
  if (!real) return failure<double>(expected(kWhat, kExample, text));
  if (number->negative) return failure<double>("a rate cannot be negative, got " + quote_value(text));
  if (number->unit.empty()) {
    return failure<double>("a rate needs a unit (" + join_names(unit_names(std::span<const RealUnit>(kRateUnits))) +
                           "), got " + quote_value(text));
  }
  const RealUnit* unit = find_unit(std::span<const RealUnit>(kRateUnits), number->unit);
  if (unit == nullptr)
    return failure<double>(unknown_unit(kWhat, number->unit, text, std::span<const RealUnit>(kRateUnits)));
  return UnitParse<double>{*real * unit->factor, {}};
}

UnitParse<double> parse_real(std::string_view text) {
  const std::optional<NumberText> number = split_number(text);
  const std::optional<double> real = number && number->unit.empty() ? real_value(number->digits) : std::nullopt;
  if (!real) return failure<double>(expected("a number", "\"0.5\" or \"1e-4\"", text));
  return UnitParse<double>{number->negative ? -*real : *real, {}};
}

std::string format_bytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  constexpr std::array<std::string_view, 6> kUnits = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < kUnits.size()) {
    value /= 1024;
    ++unit;
  }
  return three_digits(value) + " " + std::string(kUnits[unit]);
}

std::string format_rate(double gbps) {
  if (gbps >= 1000) return three_digits(gbps / 1000) + " Tb/s";
  if (gbps >= 1) return three_digits(gbps) + " Gb/s";
  return three_digits(gbps * 1000) + " Mb/s";
}

std::string format_duration(uint64_t ns) {
  if (ns < 1'000) return std::to_string(ns) + " ns";
  if (ns < 1'000'000) return three_digits(ns / 1e3) + " us";
  if (ns < 1'000'000'000) return three_digits(ns / 1e6) + " ms";
  return three_digits(ns / 1e9) + " s";
}

std::string format_grouped(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_real(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

std::string format_parameter_count(uint64_t count) {
  if (count >= 1'000'000'000'000) return three_digits(count / 1e12) + " trillion";
  if (count >= 1'000'000'000) return three_digits(count / 1e9) + " billion";
  if (count >= 1'000'000) return three_digits(count / 1e6) + " million";
  return format_grouped(count);
}

}  // namespace ferry::scenarios
