// The command line: defaults, parsed values, and usage errors that name the flag.
#include <chrono>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "app/options.h"
#include "core/error.h"

using namespace std::chrono_literals;
using sockleak::Command;
using sockleak::Format;
using sockleak::ParseOutcome;

namespace {

ParseOutcome parse(std::initializer_list<std::string> args) {
  std::vector<std::string> storage{"sockleak"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const std::string& a : storage) argv.push_back(a.c_str());
  return sockleak::parse_options(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("run with no flags uses the documented defaults", "[options]") {
  const ParseOutcome out = parse({"run"});
  REQUIRE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitOk);
  const sockleak::Options& o = *out.options;
  CHECK(o.command == Command::kRun);
  CHECK(o.thresholds.close_wait == 30s);
  CHECK(o.thresholds.established_idle == 5min);
  CHECK(o.interval == 10s);
  CHECK(o.reconcile_interval == 30s);
  CHECK_FALSE(o.duration.has_value());
  CHECK(o.format == Format::kJson);
  CHECK(o.filter.pids.empty());
  CHECK(o.filter.comms.empty());
  CHECK(o.filter.min_count == 1);
  CHECK_FALSE(o.verbose);
  CHECK(o.ring_buffer_kib == 1024);
}

TEST_CASE("run flags are parsed into typed options", "[options]") {
  const ParseOutcome out =
      parse({"run", "--close-wait", "5s", "--interval", "1s", "--pid", "42", "--comm", "x", "--format", "text"});
  REQUIRE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitOk);
  CHECK(out.output.empty());
  const sockleak::Options& o = *out.options;
  CHECK(o.command == Command::kRun);
  CHECK(o.thresholds.close_wait == 5s);
  CHECK(o.thresholds.established_idle == 5min);
  CHECK(o.interval == 1s);
  CHECK(o.filter.pids == std::set<uint32_t>{42});
  CHECK(o.filter.comms == std::set<std::string>{"x"});
  CHECK(o.format == Format::kText);
}

TEST_CASE("repeated pid and comm flags accumulate", "[options]") {
  const ParseOutcome out = parse({"run", "--pid", "42", "--pid", "43", "--comm", "a", "--comm", "b"});
  REQUIRE(out.options.has_value());
  CHECK(out.options->filter.pids == std::set<uint32_t>{42, 43});
  CHECK(out.options->filter.comms == std::set<std::string>{"a", "b"});
}

TEST_CASE("run accepts the remaining flags in their equals form", "[options]") {
  const ParseOutcome out = parse({"run", "--established-idle=90s", "--reconcile-interval=1m", "--duration=1m30s",
                                  "--min-count=3", "-v"});
  REQUIRE(out.options.has_value());
  const sockleak::Options& o = *out.options;
  CHECK(o.thresholds.established_idle == 90s);
  CHECK(o.reconcile_interval == 1min);
  REQUIRE(o.duration.has_value());
  CHECK(*o.duration == 90s);
  CHECK(o.filter.min_count == 3);
  CHECK(o.verbose);
}

TEST_CASE("a power-of-two ring buffer size is accepted", "[options]") {
  const ParseOutcome out = parse({"run", "--ring-buffer-kib", "4096"});
  REQUIRE(out.options.has_value());
  CHECK(out.options->ring_buffer_kib == 4096);
}

TEST_CASE("snapshot parses as its own command", "[options]") {
  const ParseOutcome out = parse({"snapshot", "--close-wait", "1m"});
  REQUIRE(out.options.has_value());
  CHECK(out.options->command == Command::kSnapshot);
  CHECK(out.options->thresholds.close_wait == 1min);
}

TEST_CASE("usage errors exit with code 2 and name the offending flag", "[options]") {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  const Case c = GENERATE(values<Case>({
      {{"run", "--bogus"}, "--bogus"},
      {{"run", "--close-wait", "10x"}, "--close-wait"},
      {{"run", "--close-wait=-1s"}, "--close-wait"},
      {{"run", "--established-idle", "5"}, "--established-idle"},
      {{"run", "--interval", "10ms"}, "--interval"},
      {{"run", "--interval", "5s", "--reconcile-interval", "1s"}, "--reconcile-interval"},
      {{"run", "--min-count", "0"}, "--min-count"},
      {{"run", "--min-count", "2000000000"}, "--min-count"},
      {{"run", "--format", "xml"}, "--format"},
      {{"run", "--pid", "abc"}, "--pid"},
      {{"run", "--duration", "forever"}, "--duration"},
      {{"snapshot", "--interval", "1s"}, "--interval"},
      {{"run", "--ring-buffer-kib", "3"}, "--ring-buffer-kib"},
      {{"run", "--ring-buffer-kib", "1000"}, "--ring-buffer-kib"},
      {{"run", "--ring-buffer-kib", "2097152"}, "--ring-buffer-kib"},
  }));
  std::vector<const char*> argv{"sockleak"};
  for (const std::string& a : c.args) argv.push_back(a.c_str());
  const ParseOutcome out = sockleak::parse_options(static_cast<int>(argv.size()), argv.data());

  std::string joined;
  for (const std::string& a : c.args) joined += a + " ";
  INFO("args: " << joined << "\noutput: " << out.output);
  CHECK_FALSE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitUsage);
  CHECK_THAT(out.output, Catch::Contains(c.names) && Catch::StartsWith("sockleak: "));
}

TEST_CASE("a command line without a subcommand is a usage error", "[options]") {
  const ParseOutcome out = parse({});
  CHECK_FALSE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitUsage);
  CHECK_THAT(out.output, Catch::Contains("subcommand"));
}

TEST_CASE("an unknown subcommand is a usage error", "[options]") {
  // CLI11 reports the missing subcommand rather than the stray word.
  const ParseOutcome out = parse({"watch"});
  CHECK_FALSE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitUsage);
  CHECK_THAT(out.output, Catch::Contains("subcommand") && Catch::Contains("--help"));
}

TEST_CASE("help exits 0 with usage and examples", "[options]") {
  const ParseOutcome out = parse({"--help"});
  CHECK_FALSE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitOk);
  CHECK_THAT(out.output, Catch::Contains("Examples") && Catch::Contains("run") && Catch::Contains("snapshot"));
}

TEST_CASE("subcommand help lists its flags with defaults and the examples", "[options]") {
  const ParseOutcome out = parse({"run", "--help"});
  CHECK_FALSE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitOk);
  CHECK_THAT(out.output, Catch::Contains("--close-wait") && Catch::Contains("30s") &&
                             Catch::Contains("--interval") && Catch::Contains("Examples"));
}

TEST_CASE("version exits 0 and names the program and its version", "[options]") {
  const ParseOutcome out = parse({"--version"});
  CHECK_FALSE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitOk);
  CHECK_THAT(out.output, Catch::Contains("sockleak") && Catch::Contains(SOCKLEAK_VERSION));
}

// See duration_test.cpp: std::stod's std::out_of_range escapes parse_duration, and
// parse_options only catches sockleak::Error, so this throws out of parse_options
// (and main() calls it outside its try block -> std::terminate) instead of exiting 2.
TEST_CASE("a duration flag with a number too long for a double is a usage error", "[options]") {
  std::string huge(402, '0');  // "1000...0s": built in place (GCC 12 warns falsely on "1" + string)
  huge.front() = '1';
  huge.back() = 's';
  ParseOutcome out;
  REQUIRE_NOTHROW(out = parse({"run", "--close-wait", huge}));
  CHECK(out.exit_code == sockleak::kExitUsage);
  CHECK_THAT(out.output, Catch::Contains("--close-wait"));
}

// ---- metrics address ----

TEST_CASE("a listen address accepts PORT, :PORT, HOST:PORT and [V6]:PORT", "[options][listen]") {
  struct Case {
    std::string text;
    std::string host;
    uint16_t port;
  };
  const Case c = GENERATE(values<Case>({
      {"9464", "127.0.0.1", 9464},
      {":9464", "127.0.0.1", 9464},
      {"0.0.0.0:80", "0.0.0.0", 80},
      {"localhost:1", "localhost", 1},
      {"[::1]:9464", "::1", 9464},
      {"[::]:65535", "::", 65535},
  }));
  INFO("text: " << c.text);
  const sockleak::ListenAddress addr = sockleak::parse_listen_address(c.text);
  CHECK(addr.host == c.host);
  CHECK(addr.port == c.port);
}

TEST_CASE("a bad listen address is a usage error naming --metrics-addr", "[options][listen]") {
  const std::string text = GENERATE(as<std::string>{}, "", "abc", "70000", "0", "65536", "::1:80", "host:",
                                    "host:abc", "1.2.3.4:123456", "[::1]", "-1");
  INFO("text: '" << text << "'");
  try {
    sockleak::parse_listen_address(text);
    FAIL("accepted");
  } catch (const sockleak::Error& e) {
    CHECK(e.exit_code() == sockleak::kExitUsage);
    CHECK_THAT(std::string(e.what()), Catch::Contains("--metrics-addr"));
  }
}

TEST_CASE("an unbracketed IPv6 listen address asks for brackets", "[options][listen]") {
  try {
    sockleak::parse_listen_address("::1:80");
    FAIL("accepted");
  } catch (const sockleak::Error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("[addr]:port"));
  }
}

// ---- metrics, alert and output flags ----

TEST_CASE("metrics, alert and output flags default to the documented values", "[options]") {
  const ParseOutcome out = parse({"run"});
  REQUIRE(out.options.has_value());
  const sockleak::Options& o = *out.options;
  CHECK_FALSE(o.metrics_addr.has_value());
  CHECK(o.metrics_top_n == 20);
  CHECK(o.alert_rules.close_wait_count == 20);
  CHECK(o.alert_rules.fd_ratio == Approx(0.8));
  CHECK(o.alert_rules.emfile_within == 1h);
  CHECK(o.alert_rules.resolve_after == 2);
  CHECK_FALSE(o.output_path.has_value());
  CHECK_FALSE(o.config_path.has_value());
}

TEST_CASE("metrics, alert and output flags are parsed into typed options", "[options]") {
  const ParseOutcome out = parse({"run", "--metrics-addr", "[::1]:9464", "--metrics-top-n", "5",
                                  "--alert-close-wait-count", "0", "--alert-fd-ratio", "0.5",
                                  "--alert-emfile-within", "30m", "--alert-resolve-after", "3", "--output",
                                  "/tmp/sockleak.ndjson"});
  INFO(out.output);
  REQUIRE(out.options.has_value());
  const sockleak::Options& o = *out.options;
  REQUIRE(o.metrics_addr.has_value());
  CHECK(o.metrics_addr->host == "::1");
  CHECK(o.metrics_addr->port == 9464);
  CHECK(o.metrics_top_n == 5);
  CHECK(o.alert_rules.close_wait_count == 0);
  CHECK(o.alert_rules.fd_ratio == Approx(0.5));
  CHECK(o.alert_rules.emfile_within == 30min);
  CHECK(o.alert_rules.resolve_after == 3);
  REQUIRE(o.output_path.has_value());
  CHECK(*o.output_path == "/tmp/sockleak.ndjson");
}

TEST_CASE("the edges of the metrics and alert ranges are accepted", "[options]") {
  const ParseOutcome low = parse({"run", "--metrics-top-n", "1", "--alert-fd-ratio", "1", "--alert-resolve-after", "1"});
  REQUIRE(low.options.has_value());
  CHECK(low.options->metrics_top_n == 1);
  CHECK(low.options->alert_rules.fd_ratio == 1.0);
  const ParseOutcome high = parse({"run", "--metrics-top-n", "1000", "--alert-resolve-after", "1000"});
  REQUIRE(high.options.has_value());
  CHECK(high.options->metrics_top_n == 1000);
  CHECK(high.options->alert_rules.resolve_after == 1000);
}

TEST_CASE("snapshot accepts --output but not the streaming-only metrics and alert flags", "[options]") {
  const ParseOutcome ok = parse({"snapshot", "--output", "/tmp/x.ndjson"});
  REQUIRE(ok.options.has_value());
  CHECK(*ok.options->output_path == "/tmp/x.ndjson");
  const ParseOutcome bad = parse({"snapshot", "--metrics-addr", "9464"});
  CHECK_FALSE(bad.options.has_value());
  CHECK(bad.exit_code == sockleak::kExitUsage);
}

TEST_CASE("bad metrics and alert flag values exit 2 and name the flag", "[options]") {
  struct Case {
    std::vector<std::string> args;
    std::string names;
  };
  const Case c = GENERATE(values<Case>({
      {{"run", "--metrics-addr", "abc"}, "--metrics-addr"},
      {{"run", "--metrics-addr", "70000"}, "--metrics-addr"},
      {{"run", "--metrics-addr", "::1:80"}, "--metrics-addr"},
      {{"run", "--metrics-top-n", "0"}, "--metrics-top-n"},
      {{"run", "--metrics-top-n", "1001"}, "--metrics-top-n"},
      {{"run", "--metrics-top-n", "-3"}, "--metrics-top-n"},
      {{"run", "--alert-fd-ratio", "0"}, "--alert-fd-ratio"},
      {{"run", "--alert-fd-ratio", "1.5"}, "--alert-fd-ratio"},
      {{"run", "--alert-fd-ratio", "-0.5"}, "--alert-fd-ratio"},
      {{"run", "--alert-fd-ratio", "nan"}, "--alert-fd-ratio"},
      {{"run", "--alert-fd-ratio", "lots"}, "--alert-fd-ratio"},
      {{"run", "--alert-emfile-within", "soon"}, "--alert-emfile-within"},
      {{"run", "--alert-emfile-within", "10"}, "--alert-emfile-within"},
      {{"run", "--alert-close-wait-count", "-1"}, "--alert-close-wait-count"},
      {{"run", "--alert-resolve-after", "0"}, "--alert-resolve-after"},
      {{"run", "--alert-resolve-after", "1001"}, "--alert-resolve-after"},
  }));
  std::vector<const char*> argv{"sockleak"};
  for (const std::string& a : c.args) argv.push_back(a.c_str());
  const ParseOutcome out = sockleak::parse_options(static_cast<int>(argv.size()), argv.data());

  std::string joined;
  for (const std::string& a : c.args) joined += a + " ";
  INFO("args: " << joined << "\noutput: " << out.output);
  CHECK_FALSE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitUsage);
  CHECK_THAT(out.output, Catch::Contains(c.names) && Catch::StartsWith("sockleak: "));
}

// Regression: found by this test and fixed.
TEST_CASE("a listen address with unbalanced brackets is a usage error", "[options][listen]") {
  const std::string text = GENERATE(as<std::string>{}, "[::1:80", "[::1]x:80");
  INFO("text: " << text);
  CHECK_THROWS_AS(sockleak::parse_listen_address(text), sockleak::Error);
}

TEST_CASE("disabling a kernel feature takes optional features only, repeated or comma-separated", "[options]") {
  const ParseOutcome ok = parse({"snapshot", "--disable-feature", "socket_cookie,sock_from_file"});
  REQUIRE(ok.options);
  CHECK(ok.options->disabled_features ==
        std::set<sockleak::Feature>{sockleak::Feature::kSocketCookie, sockleak::Feature::kSockFromFile});
  const ParseOutcome required = parse({"run", "--disable-feature", "ring_buffer"});
  CHECK_FALSE(required.options);
  CHECK(required.exit_code == sockleak::kExitUsage);
  CHECK(required.output.find("--disable-feature") != std::string::npos);
}

TEST_CASE("features takes --btf, --format and --disable-feature; a missing BTF file is a usage error",
          "[options]") {
  const ParseOutcome ok = parse({"features", "--format", "json"});
  REQUIRE(ok.options);
  CHECK(ok.options->command == Command::kFeatures);
  CHECK(ok.options->format == Format::kJson);
  const ParseOutcome text = parse({"features"});
  REQUIRE(text.options);
  CHECK(text.options->format == Format::kText);
  const ParseOutcome missing = parse({"features", "--btf", "/nonexistent/vmlinux.btf"});
  CHECK_FALSE(missing.options);
  CHECK(missing.exit_code == sockleak::kExitUsage);
}

TEST_CASE("explain takes only what it honours: no filters that could hide its process, no format or output",
          "[options]") {
  for (const std::string flag : {"--comm", "--min-count", "--format", "--output", "--pid"}) {
    const ParseOutcome parsed = parse({"explain", "1234", flag, "1"});
    CHECK_FALSE(parsed.options);
    CHECK(parsed.exit_code == sockleak::kExitUsage);
  }
  const ParseOutcome ok = parse({"explain", "1234", "--close-wait", "5s"});
  REQUIRE(ok.options);
  CHECK(ok.options->filter.pids == std::set<uint32_t>{1234});
  CHECK(ok.options->filter.comms.empty());
  CHECK(ok.options->filter.min_count == 1);
}

TEST_CASE("call sites under a one-shot command are refused with the reason", "[options]") {
  for (const std::string command : {"snapshot", "explain"}) {
    const ParseOutcome parsed =
        command == "explain" ? parse({"explain", "1234", "--call-sites", "1"}) : parse({"snapshot", "--call-sites", "1"});
    CHECK_FALSE(parsed.options);
    CHECK(parsed.exit_code == sockleak::kExitUsage);
    CHECK(parsed.output.find("sockleak run --call-sites") != std::string::npos);
  }
  CHECK(parse({"run", "--call-sites", "1"}).options);
}
