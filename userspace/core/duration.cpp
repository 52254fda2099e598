#include "core/duration.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cmath>
#include <cstdint>
#include <limits>

#include "core/error.h"

namespace sockleak {
namespace {

struct Unit {
  std::string_view name;
  double nanos;
};

// Longest names first so "ms" is not read as "m" followed by garbage.
constexpr Unit kUnits[] = {{"ns", 1.0},   {"us", 1e3},  {"ms", 1e6},
                           {"s", 1e9},    {"m", 60e9},  {"h", 3600e9}};

[[noreturn]] void reject(std::string_view text, std::string_view why) {
  throw Error("invalid duration \"" + std::string(text) + "\": " + std::string(why) +
                  " (examples: 500ms, 30s, 5m, 1h, 1m30s)",
              kExitUsage);
}

}  // namespace

Nanos parse_duration(std::string_view text) {
  if (text.empty()) reject(text, "empty");
  if (text.front() == '-') reject(text, "must not be negative");
  double total = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = pos;
    bool seen_dot = false;
    while (pos < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[pos])) || (text[pos] == '.' && !seen_dot))) {
      seen_dot = seen_dot || text[pos] == '.';
      ++pos;
    }
    std::string_view number = text.substr(start, pos - start);
    if (number.empty() || number == ".") reject(text, "expected a number");
    size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    if (unit.empty()) reject(text, "missing unit");
    const Unit* found = nullptr;
    for (const Unit& u : kUnits) {
      if (u.name == unit) found = &u;
    }
    if (!found) reject(text, "unknown unit \"" + std::string(unit) + "\"");
    errno = 0;
    const double value = std::strtod(std::string(number).c_str(), nullptr);
    if (errno == ERANGE) reject(text, "number out of range");
    total += value * found->nanos;
  }
  if (!std::isfinite(total) || total > static_cast<double>(std::numeric_limits<int64_t>::max() / 2)) {
    reject(text, "too large");
  }
  return Nanos(static_cast<int64_t>(std::llround(total)));
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

}  // namespace sockleak
