// --config: a JSON file whose keys are the long flag names. Values go through the same
// validation as flags, the command line overrides the file, and every problem is a usage
// error (exit 2) that names the key.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "app/options.h"
#include "core/error.h"

using namespace std::chrono_literals;
using sockleak::Format;
using sockleak::ParseOutcome;

namespace {

// A config file under the temp directory, removed when the test is done.
class ConfigFile {
 public:
  explicit ConfigFile(const std::string& contents) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("sockleak-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".json");
    std::ofstream out(path_);
    out << contents;
  }
  ~ConfigFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  ConfigFile(const ConfigFile&) = delete;
  ConfigFile& operator=(const ConfigFile&) = delete;

  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

ParseOutcome parse(std::vector<std::string> args) {
  args.insert(args.begin(), "sockleak");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return sockleak::parse_options(static_cast<int>(argv.size()), argv.data());
}

ParseOutcome run_with(const ConfigFile& file, std::vector<std::string> more = {}) {
  std::vector<std::string> args{"run", "--config", file.path()};
  args.insert(args.end(), more.begin(), more.end());
  return parse(args);
}

void require_usage_error(const ParseOutcome& out, const std::string& names) {
  INFO("output: " << out.output);
  CHECK_FALSE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitUsage);
  CHECK_THAT(out.output, Catch::StartsWith("sockleak: ") && Catch::Contains(names));
}

}  // namespace

// ---- values applied ----

TEST_CASE("config keys are applied like the flags of the same name", "[config]") {
  const ConfigFile file(R"({
    "close-wait": "5s",
    "established-idle": "2m",
    "pid": [1, 2],
    "comm": ["nginx", "java"],
    "min-count": 3,
    "format": "text",
    "verbose": true,
    "interval": "2s",
    "duration": "1h"
  })");
  const ParseOutcome out = run_with(file);
  INFO(out.output);
  REQUIRE(out.options.has_value());
  CHECK(out.exit_code == sockleak::kExitOk);
  const sockleak::Options& o = *out.options;
  CHECK(o.thresholds.close_wait == 5s);
  CHECK(o.thresholds.established_idle == 2min);
  CHECK(o.filter.pids == std::set<uint32_t>{1, 2});
  CHECK(o.filter.comms == std::set<std::string>{"nginx", "java"});
  CHECK(o.filter.min_count == 3);
  CHECK(o.format == Format::kText);
  CHECK(o.verbose);
  CHECK(o.interval == 2s);
  REQUIRE(o.duration.has_value());
  CHECK(*o.duration == 1h);
  REQUIRE(o.config_path.has_value());
  CHECK(*o.config_path == file.path());
}

TEST_CASE("config keys set the metrics, alert and output options", "[config]") {
  const ConfigFile file(R"({
    "metrics-addr": ":9464",
    "metrics-top-n": 7,
    "alert-close-wait-count": 50,
    "alert-fd-ratio": 0.9,
    "alert-emfile-within": "15m",
    "alert-resolve-after": 4,
    "output": "/var/log/sockleak.ndjson",
    "ring-buffer-kib": 2048
  })");
  const ParseOutcome out = run_with(file);
  INFO(out.output);
  REQUIRE(out.options.has_value());
  const sockleak::Options& o = *out.options;
  REQUIRE(o.metrics_addr.has_value());
  CHECK(o.metrics_addr->host == "127.0.0.1");
  CHECK(o.metrics_addr->port == 9464);
  CHECK(o.metrics_top_n == 7);
  CHECK(o.alert_rules.close_wait_count == 50);
  CHECK(o.alert_rules.fd_ratio == Approx(0.9));
  CHECK(o.alert_rules.emfile_within == 15min);
  CHECK(o.alert_rules.resolve_after == 4);
  REQUIRE(o.output_path.has_value());
  CHECK(*o.output_path == "/var/log/sockleak.ndjson");
  CHECK(o.ring_buffer_kib == 2048);
}

TEST_CASE("a config value false leaves a flag off", "[config]") {
  const ConfigFile file(R"({"verbose": false})");
  const ParseOutcome out = run_with(file);
  REQUIRE(out.options.has_value());
  CHECK_FALSE(out.options->verbose);
}

TEST_CASE("an empty config object changes nothing", "[config]") {
  const ConfigFile file("{}");
  const ParseOutcome out = run_with(file);
  REQUIRE(out.options.has_value());
  CHECK(out.options->thresholds.close_wait == 30s);
  CHECK(out.options->format == Format::kJson);
  CHECK(out.options->filter.pids.empty());
}

TEST_CASE("snapshot reads its config keys too", "[config]") {
  const ConfigFile file(R"({"close-wait": "1m", "format": "text"})");
  const ParseOutcome out = parse({"snapshot", "--config", file.path()});
  REQUIRE(out.options.has_value());
  CHECK(out.options->command == sockleak::Command::kSnapshot);
  CHECK(out.options->thresholds.close_wait == 1min);
  CHECK(out.options->format == Format::kText);
}

// ---- command line wins ----

TEST_CASE("a flag on the command line overrides the config value", "[config]") {
  const ConfigFile file(R"({"close-wait": "5s", "pid": [1, 2], "format": "text", "min-count": 3})");
  SECTION("flags after --config") {
    const ParseOutcome out = run_with(file, {"--close-wait", "7s", "--pid", "9"});
    REQUIRE(out.options.has_value());
    CHECK(out.options->thresholds.close_wait == 7s);
    CHECK(out.options->filter.pids == std::set<uint32_t>{9});
    // Keys not given on the command line still come from the file.
    CHECK(out.options->format == Format::kText);
    CHECK(out.options->filter.min_count == 3);
  }
  SECTION("flags before --config") {
    const ParseOutcome out = parse({"run", "--format", "json", "--config", file.path()});
    REQUIRE(out.options.has_value());
    CHECK(out.options->format == Format::kJson);
    CHECK(out.options->thresholds.close_wait == 5s);
  }
}

TEST_CASE("a command-line flag overrides a config value the file would have rejected", "[config]") {
  // The file's value is never read for a key the command line gave.
  const ConfigFile file(R"({"close-wait": "x"})");
  const ParseOutcome out = run_with(file, {"--close-wait", "9s"});
  INFO(out.output);
  REQUIRE(out.options.has_value());
  CHECK(out.options->thresholds.close_wait == 9s);
}

TEST_CASE("parsing the same command line again re-reads the config file", "[config]") {
  // SIGHUP reload: same argv, new file contents.
  const ConfigFile file(R"({"close-wait": "5s"})");
  const ParseOutcome first = run_with(file);
  REQUIRE(first.options.has_value());
  CHECK(first.options->thresholds.close_wait == 5s);
  {
    std::ofstream rewrite(file.path(), std::ios::trunc);
    rewrite << R"({"close-wait": "45s"})";
  }
  const ParseOutcome second = run_with(file);
  REQUIRE(second.options.has_value());
  CHECK(second.options->thresholds.close_wait == 45s);
}

// ---- usage errors ----

TEST_CASE("an unknown config key is a usage error naming the key", "[config]") {
  const ConfigFile file(R"({"close-wait": "5s", "closewait-typo": "5s"})");
  require_usage_error(run_with(file), "closewait-typo");
}

TEST_CASE("config keys that are not settable options are unknown", "[config]") {
  const std::string key = GENERATE(as<std::string>{}, "config", "help", "version", "--close-wait", "v", "");
  const ConfigFile file("{\"" + key + "\": \"x\"}");
  const ParseOutcome out = run_with(file);
  INFO("key: '" << key << "'");
  require_usage_error(out, "key \"" + key + "\"");
}

TEST_CASE("one config file serves both commands: snapshot skips the keys only run knows", "[config]") {
  const ConfigFile file(R"({"close-wait": "1m", "interval": "5s", "metrics-addr": ":9464", "alert-fd-ratio": 0.5})");
  const ParseOutcome snapshot = parse({"snapshot", "--config", file.path()});
  INFO(snapshot.output);
  REQUIRE(snapshot.options.has_value());
  CHECK(snapshot.options->thresholds.close_wait == 1min);
  CHECK(snapshot.options->interval == 10s);
  CHECK_FALSE(snapshot.options->metrics_addr.has_value());

  const ParseOutcome run = run_with(file);
  REQUIRE(run.options.has_value());
  CHECK(run.options->interval == 5s);
  REQUIRE(run.options->metrics_addr.has_value());
  CHECK(run.options->metrics_addr->port == 9464);
}

TEST_CASE("a key neither command knows is unknown to snapshot too", "[config]") {
  const ConfigFile file(R"({"interval": "5s", "intervall": "5s"})");
  require_usage_error(parse({"snapshot", "--config", file.path()}), "intervall");
}

TEST_CASE("a bad config value is a usage error naming the key", "[config]") {
  struct Case {
    std::string json;
    std::string names;
  };
  const Case c = GENERATE(values<Case>({
      {R"({"close-wait": "x"})", "close-wait"},
      {R"({"format": "xml"})", "format"},
      {R"({"min-count": "many"})", "min-count"},
      {R"({"min-count": 0})", "min-count"},
      {R"({"pid": ["abc"]})", "pid"},
      {R"({"metrics-top-n": 0})", "metrics-top-n"},
      {R"({"alert-fd-ratio": 1.5})", "alert-fd-ratio"},
      {R"({"alert-emfile-within": "later"})", "alert-emfile-within"},
      {R"({"metrics-addr": "::1:80"})", "metrics-addr"},
      {R"({"ring-buffer-kib": 1000})", "ring-buffer-kib"},
  }));
  INFO("config: " << c.json);
  const ConfigFile file(c.json);
  require_usage_error(run_with(file), c.names);
}

TEST_CASE("a config value of the wrong JSON type is a usage error naming the key", "[config]") {
  const std::string json = GENERATE(as<std::string>{}, R"({"close-wait": {"seconds": 5}})",
                                    R"({"close-wait": null})", R"({"close-wait": [{"a": 1}]})",
                                    R"({"close-wait": [[1]]})");
  INFO("config: " << json);
  const ConfigFile file(json);
  require_usage_error(run_with(file), "close-wait");
}

TEST_CASE("a config file that is not valid JSON is a usage error", "[config]") {
  const std::string json = GENERATE(as<std::string>{}, "{\"close-wait\": ", "close-wait=5s", "", "{'a': 1}");
  INFO("config: " << json);
  const ConfigFile file(json);
  require_usage_error(run_with(file), "--config");
}

TEST_CASE("a config file that is not a JSON object is a usage error", "[config]") {
  const std::string json = GENERATE(as<std::string>{}, "[]", "42", "\"close-wait\"", "null");
  INFO("config: " << json);
  const ConfigFile file(json);
  require_usage_error(run_with(file), "JSON object");
}

TEST_CASE("a missing config file is a usage error naming the path", "[config]") {
  const std::string missing =
      (std::filesystem::temp_directory_path() / ("sockleak-no-such-config-" + std::to_string(::getpid()) + ".json"))
          .string();
  require_usage_error(parse({"run", "--config", missing}), missing);
}
