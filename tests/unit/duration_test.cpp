// Durations on the command line: what parses, what is a usage error, and how they print.
#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "core/duration.h"
#include "core/error.h"

using namespace std::chrono_literals;
using sockleak::Nanos;
using sockleak::format_duration;
using sockleak::parse_duration;

namespace {

// The exit code parse_duration's error carries; -1 if it did not throw, -2 if it threw
// something other than sockleak::Error (which main() would not map to a usage error).
int exit_code_of(const std::string& text) {
  try {
    parse_duration(text);
  } catch (const sockleak::Error& e) {
    return e.exit_code();
  } catch (const std::exception&) {
    return -2;
  }
  return -1;
}

std::string message_of(const std::string& text) {
  try {
    parse_duration(text);
  } catch (const sockleak::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a duration with one unit parses to that many nanoseconds", "[duration]") {
  CHECK(parse_duration("500ms") == 500ms);
  CHECK(parse_duration("30s") == 30s);
  CHECK(parse_duration("5m") == 5min);
  CHECK(parse_duration("1h") == 1h);
  CHECK(parse_duration("250us") == 250us);
  CHECK(parse_duration("7ns") == 7ns);
}

TEST_CASE("a duration made of several units is their sum", "[duration]") {
  CHECK(parse_duration("1m30s") == 90s);
  CHECK(parse_duration("1h2m3s") == 3723s);
  CHECK(parse_duration("1s500ms") == 1500ms);
}

TEST_CASE("a decimal duration is exact to the nanosecond", "[duration]") {
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_duration("0.25m") == 15s);
  CHECK(parse_duration(".5s") == 500ms);
}

TEST_CASE("a zero duration is accepted", "[duration]") {
  CHECK(parse_duration("0s") == Nanos(0));
  CHECK(parse_duration("0ms") == Nanos(0));
}

TEST_CASE("malformed durations are usage errors with exit code 2", "[duration]") {
  const std::string bad = GENERATE(as<std::string>{}, "", "5", "-1s", "10x", "s", "+1s", " 5s", "5 s",
                                   "1.2.3s", "5S", "1e3s", ".s");
  INFO("input: \"" << bad << "\"");
  CHECK(exit_code_of(bad) == sockleak::kExitUsage);
}

TEST_CASE("a duration too large to hold in nanoseconds is a usage error", "[duration]") {
  const std::string huge = GENERATE(as<std::string>{}, "3000000h", "99999999999999999999s",
                                    "5000000000000000000ns", "2000000h");
  INFO("input: \"" << huge << "\"");
  CHECK(exit_code_of(huge) == sockleak::kExitUsage);
}

// Regression: found by this test, fixed in userspace/core/duration.cpp.
TEST_CASE("a duration whose number overflows a double is a usage error not a crash",
          "[duration]") {
  const std::string overflow = "1" + std::string(400, '0') + "s";
  const std::string underflow = "0." + std::string(400, '0') + "1s";
  CHECK(exit_code_of(overflow) == sockleak::kExitUsage);
  CHECK(exit_code_of(underflow) == sockleak::kExitUsage);
}

TEST_CASE("a long duration that still fits in nanoseconds is accepted", "[duration]") {
  CHECK(parse_duration("1000000h") == std::chrono::hours(1'000'000));
}

TEST_CASE("a duration error names the input and why it was rejected", "[duration]") {
  CHECK_THAT(message_of("10x"), Catch::Contains("\"10x\"") && Catch::Contains("unknown unit"));
  CHECK_THAT(message_of("5"), Catch::Contains("missing unit"));
  CHECK_THAT(message_of("-1s"), Catch::Contains("negative"));
  CHECK_THAT(message_of(""), Catch::Contains("empty"));
  CHECK_THAT(message_of("3000000h"), Catch::Contains("too large"));
}

TEST_CASE("format_duration prints round durations in their largest exact unit", "[duration]") {
  CHECK(format_duration(30s) == "30s");
  CHECK(format_duration(5min) == "5m");
  CHECK(format_duration(1h) == "1h");
  CHECK(format_duration(500ms) == "500ms");
  CHECK(format_duration(Nanos(0)) == "0s");
  CHECK(format_duration(90s) == "90s");
  CHECK(format_duration(7ns) == "7ns");
}

TEST_CASE("format_duration output parses back to the same duration", "[duration]") {
  const std::string text = GENERATE(as<std::string>{}, "30s", "5m", "1h", "500ms", "1m30s", "1.5s",
                                    "250us", "0s");
  INFO("input: " << text);
  const Nanos d = parse_duration(text);
  CHECK(parse_duration(format_duration(d)) == d);
}

// Regression: found by this test, fixed in userspace/core/duration.cpp.
TEST_CASE("format_duration is exact for durations that are not whole microseconds",
          "[duration]") {
  const Nanos d = GENERATE(Nanos(1'000'000'001), Nanos(1'234'567'891));
  INFO("nanoseconds: " << d.count() << " printed as " << format_duration(d));
  CHECK(parse_duration(format_duration(d)) == d);
}

TEST_CASE("to_seconds converts nanoseconds to fractional seconds", "[duration]") {
  CHECK(sockleak::to_seconds(1500ms) == Approx(1.5));
  CHECK(sockleak::to_seconds(Nanos(0)) == 0.0);
  CHECK(sockleak::to_seconds(5min) == Approx(300.0));
}

// Regression: found by fuzz_duration. Floating-point parsing lost nanoseconds in sums of
// long decimals, so formatting and re-parsing gave a different duration.
TEST_CASE("a long decimal sum parses exactly and formats back to itself", "[duration]") {
  const Nanos d = parse_duration(".588188888s8888888s");
  CHECK(d == Nanos(8'888'888'588'188'888));
  CHECK(parse_duration(format_duration(d)) == d);
  CHECK(parse_duration("0.000000001s") == Nanos(1));
  CHECK(parse_duration("1.0000000019s") == Nanos(1'000'000'001));  // below 1ns dropped
}
