#include "core/duration.h"

#include <cctype>
#include <cstdint>
#include <ctime>
#include <limits>

#include "core/error.h"

namespace sockleak {
namespace {

__extension__ typedef __int128 Wide;  // exact intermediate arithmetic past int64

struct Unit {
  std::string_view name;
  int64_t nanos;
};

constexpr Unit kUnits[] = {{"ns", 1}, {"us", 1'000}, {"ms", 1'000'000}, {"s", 1'000'000'000},
                           {"m", 60'000'000'000}, {"h", 3'600'000'000'000}};
// Above this a duration is a mistake, not a threshold (~146 years).
constexpr int64_t kLargest = std::numeric_limits<int64_t>::max() / 2;
// Fraction digits past 10^-18 cannot reach a nanosecond of an hour: they are not kept.
constexpr Wide kFractionScale = 1'000'000'000'000'000'000;

[[noreturn]] void reject(std::string_view text, std::string_view why) {
  throw Error("invalid duration \"" + std::string(text) + "\": " + std::string(why) +
                  " (examples: 500ms, 30s, 5m, 1h, 1m30s)",
              kExitUsage);
}

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

}  // namespace

// Exact integer arithmetic (no floating point): what parses formats back to itself.
// Sub-nanosecond remainders are dropped; a non-zero term smaller than 1ns is an error.
Nanos parse_duration(std::string_view text) {
  if (text.empty()) reject(text, "empty");
  if (text.front() == '-') reject(text, "must not be negative");
  Wide total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    Wide whole = 0;
    size_t digits = 0;
    for (; pos < text.size() && is_digit(text[pos]); ++pos, ++digits) {
      whole = whole * 10 + (text[pos] - '0');
      if (whole > kLargest) reject(text, "too large");
    }
    Wide fraction = 0;
    Wide scale = 1;
    bool fraction_nonzero = false;
    if (pos < text.size() && text[pos] == '.') {
      for (++pos; pos < text.size() && is_digit(text[pos]); ++pos, ++digits) {
        fraction_nonzero = fraction_nonzero || text[pos] != '0';
        if (scale < kFractionScale) {
          fraction = fraction * 10 + (text[pos] - '0');
          scale *= 10;
        }
      }
    }
    if (digits == 0) reject(text, "expected a number");
    const size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    const std::string_view unit = text.substr(unit_start, pos - unit_start);
    if (unit.empty()) reject(text, "missing unit");
    const Unit* found = nullptr;
    for (const Unit& u : kUnits) {
      if (u.name == unit) found = &u;
    }
    if (!found) reject(text, "unknown unit \"" + std::string(unit) + "\"");
    const Wide term = whole * found->nanos + fraction * found->nanos / scale;
    if (term == 0 && (whole != 0 || fraction_nonzero)) reject(text, "smaller than 1ns");
    total += term;
    if (total > kLargest) reject(text, "too large");
  }
  return Nanos(static_cast<int64_t>(total));
}

std::string format_duration(Nanos d) {
  const int64_t ns = d.count();
  constexpr std::pair<int64_t, std::string_view> kExact[] = {
      {3600'000'000'000, "h"}, {60'000'000'000, "m"}, {1'000'000'000, "s"},
      {1'000'000, "ms"},       {1'000, "us"}};
  if (ns == 0) return "0s";
  for (const auto& [size, name] : kExact) {
    if (ns % size == 0) return std::to_string(ns / size) + std::string(name);
  }
  if (ns >= 1'000'000'000) {  // exact decimal seconds: "1.000000001s"
    std::string fraction = std::to_string(1'000'000'000 + ns % 1'000'000'000).substr(1);
    fraction.erase(fraction.find_last_not_of('0') + 1);
    return std::to_string(ns / 1'000'000'000) + "." + fraction + "s";
  }
  return std::to_string(ns) + "ns";
}

double to_seconds(Nanos d) { return static_cast<double>(d.count()) / 1e9; }

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace sockleak
