// The NDJSON output contract (schema 1): field names, values and line safety.
#include <chrono>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "output/json_records.h"

using namespace std::chrono_literals;
using nlohmann::json;
using sockleak::ReportRow;
using sockleak::RecordContext;
using sockleak::StatsSnapshot;
using sockleak::TcpState;

namespace {

RecordContext context() {
  RecordContext ctx;
  ctx.timestamp = "2024-02-29T13:45:06.789Z";
  ctx.host = "web-1";
  ctx.thresholds.close_wait = 30s;
  ctx.thresholds.established_idle = 5min;
  return ctx;
}

sockleak::Endpoint ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  sockleak::Endpoint e;
  e.family = SL_AF_INET;
  e.address = {a, b, c, d};
  e.port = port;
  return e;
}

// nginx (pid 4242) with three CLOSE_WAIT sockets, two to one backend.
ReportRow close_wait_row() {
  ReportRow row;
  row.group.process = {4242, 77'000};
  row.group.name = "nginx";
  row.group.state = TcpState::kCloseWait;
  row.group.count = 3;
  row.group.oldest = 42500ms;
  row.group.oldest_is_lower_bound = true;
  row.group.top_peers = {{ipv4(10, 0, 0, 7, 8080), 2}, {ipv4(10, 0, 0, 8, 8080), 1}};
  row.group.netns = {4026531840u};
  row.process.name = "nginx";
  row.process.start_time = "2024-02-29T12:00:00.000Z";
  row.process.fd_open = 17;
  row.process.fd_limit = 1024;
  return row;
}

}  // namespace

TEST_CASE("a linger record carries the envelope and the process socket and network fields", "[json]") {
  const auto r = sockleak::linger_record(close_wait_row(), context());

  CHECK(r["schema"] == 1);
  CHECK(r["type"] == "linger");
  CHECK(r["@timestamp"] == "2024-02-29T13:45:06.789Z");
  CHECK(r["host"]["name"] == "web-1");

  CHECK(r["process"]["pid"] == 4242);
  CHECK(r["process"]["name"] == "nginx");
  CHECK(r["process"]["start_time"] == "2024-02-29T12:00:00.000Z");
  CHECK(r["process"]["fd"]["open"] == 17);
  CHECK(r["process"]["fd"]["limit"] == 1024);

  CHECK(r["socket"]["state"] == "CLOSE_WAIT");
  CHECK(r["socket"]["count"] == 3);
  CHECK(r["socket"]["oldest_age_seconds"].get<double>() == Approx(42.5));
  CHECK(r["socket"]["age_is_lower_bound"] == true);
  CHECK(r["socket"]["threshold_seconds"].get<double>() == Approx(30.0));

  REQUIRE(r["network"]["peers"].size() == 2);
  CHECK(r["network"]["peers"][0]["address"] == "10.0.0.7");
  CHECK(r["network"]["peers"][0]["port"] == 8080);
  CHECK(r["network"]["peers"][0]["count"] == 2);
  CHECK(r["network"]["peers"][1]["address"] == "10.0.0.8");
  REQUIRE(r["network"]["namespaces"].size() == 1);
  CHECK(r["network"]["namespaces"][0] == 4026531840u);
}

TEST_CASE("an ESTABLISHED linger record uses the idle threshold", "[json]") {
  ReportRow row = close_wait_row();
  row.group.state = TcpState::kEstablished;
  row.group.oldest_is_lower_bound = false;
  const auto r = sockleak::linger_record(row, context());
  CHECK(r["socket"]["state"] == "ESTABLISHED");
  CHECK(r["socket"]["threshold_seconds"].get<double>() == Approx(300.0));
  CHECK(r["socket"]["age_is_lower_bound"] == false);
}

TEST_CASE("unknown process details are left out of a linger record", "[json]") {
  ReportRow row = close_wait_row();
  row.process.start_time.reset();
  row.process.fd_open.reset();
  row.process.fd_limit.reset();
  row.group.top_peers.clear();

  const auto r = sockleak::linger_record(row, context());

  CHECK_FALSE(r["process"].contains("start_time"));
  CHECK(r["process"]["fd"].is_object());
  CHECK_FALSE(r["process"]["fd"].contains("open"));
  CHECK_FALSE(r["process"]["fd"].contains("limit"));
  CHECK(r["process"]["fd"]["exhaustion_eta_seconds"].is_null());
  CHECK(r["socket"]["leak_rate_per_minute"].is_null());
  CHECK(r["network"]["peers"].is_array());
  CHECK(r["network"]["peers"].empty());
}

TEST_CASE("an IPv6 peer is written in its compressed text form", "[json]") {
  ReportRow row = close_wait_row();
  sockleak::Endpoint v6;
  v6.family = SL_AF_INET6;
  v6.address = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
  v6.port = 443;
  row.group.top_peers = {{v6, 3}};
  const auto r = sockleak::linger_record(row, context());
  CHECK(r["network"]["peers"][0]["address"] == "2001:db8::1");
  CHECK(r["network"]["peers"][0]["port"] == 443);
}

TEST_CASE("a record whose process name has invalid UTF-8 and control bytes is one parseable line",
          "[json]") {
  ReportRow row = close_wait_row();
  row.process.name = std::string("bad\xff\xfe") + "\n\x01" + "end";
  const auto r = sockleak::linger_record(row, context());

  std::string line;
  REQUIRE_NOTHROW(line = sockleak::ndjson_line(r));

  CHECK(line.find('\n') == std::string::npos);
  CHECK(line.find('\x01') == std::string::npos);
  json back;
  REQUIRE_NOTHROW(back = json::parse(line));
  // Invalid bytes become U+FFFD; control characters survive as escapes.
  CHECK(back["process"]["name"] == "bad\xEF\xBF\xBD\xEF\xBF\xBD\n\x01" "end");
  CHECK(back["process"]["pid"] == 4242);
}

TEST_CASE("an ndjson line is compact and has no trailing newline", "[json]") {
  const std::string line = sockleak::ndjson_line({{"a", 1}, {"b", "x"}});
  CHECK(line == R"({"a":1,"b":"x"})");
}

TEST_CASE("an ndjson line starts with schema type and timestamp", "[json]") {
  const std::string linger = sockleak::ndjson_line(sockleak::linger_record(close_wait_row(), context()));
  CHECK_THAT(linger, Catch::StartsWith(R"({"schema":1,"type":"linger","@timestamp":"2024-02-29T13:45:06.789Z",)"));
  const std::string stats = sockleak::ndjson_line(sockleak::stats_record(StatsSnapshot{}, context()));
  CHECK_THAT(stats, Catch::StartsWith(R"({"schema":1,"type":"stats","@timestamp":)"));
}

TEST_CASE("a stats record carries every counter", "[json]") {
  StatsSnapshot s;
  s.events_received = 101;
  s.events_lost = 2;
  s.events_malformed = 3;
  s.sockets_tracked = 44;
  s.sockets_untracked = 5;
  s.rows_lost = 6;
  s.queues_truncated = 2;
  s.reconciles = 7;
  s.reconcile_corrections = 8;
  s.lingering.close_wait = 9;
  s.lingering.established = 10;
  s.lingering.unowned = 11;
  s.uptime_seconds = 12.5;
  s.close_tracking = true;
  s.final = true;

  const auto r = sockleak::stats_record(s, context());

  CHECK(r["schema"] == 1);
  CHECK(r["type"] == "stats");
  CHECK(r["@timestamp"] == "2024-02-29T13:45:06.789Z");
  CHECK(r["host"]["name"] == "web-1");
  CHECK(r["events"]["received"] == 101);
  CHECK(r["events"]["lost"] == 2);
  CHECK(r["events"]["malformed"] == 3);
  CHECK(r["sockets"]["tracked"] == 44);
  CHECK(r["sockets"]["untracked_map_full"] == 5);
  CHECK(r["sockets"]["lingering"]["close_wait"] == 9);
  CHECK(r["sockets"]["lingering"]["established"] == 10);
  CHECK(r["sockets"]["lingering"]["unowned"] == 11);
  CHECK(r["reconcile"]["runs"] == 7);
  CHECK(r["reconcile"]["corrections"] == 8);
  CHECK(r["reconcile"]["rows_lost"] == 6);
  CHECK(r["reconcile"]["accept_queues_truncated"] == 2);
  CHECK(r["close_tracking"] == true);
  CHECK(r["uptime_seconds"].get<double>() == Approx(12.5));
  CHECK(r["final"] == true);
}

TEST_CASE("rfc3339 prints UTC with milliseconds", "[json]") {
  using std::chrono::system_clock;
  // 2024-02-29T13:45:06Z is 1709214306 seconds after the epoch.
  const system_clock::time_point t = system_clock::time_point(1709214306s) + 789ms + 999us;
  CHECK(sockleak::rfc3339(t) == "2024-02-29T13:45:06.789Z");
  CHECK(sockleak::rfc3339(system_clock::time_point{}) == "1970-01-01T00:00:00.000Z");
  CHECK(sockleak::rfc3339(system_clock::time_point(1s) + 5ms) == "1970-01-01T00:00:01.005Z");
}

TEST_CASE("sockets never accepted carry their cause and the listen address; held ones a null listen",
          "[json]") {
  CHECK(sockleak::linger_record(close_wait_row(), context())["socket"]["listen"].is_null());
  ReportRow queued = close_wait_row();
  queued.group.listen = ipv4(0, 0, 0, 0, 8080);
  const auto r = sockleak::linger_record(queued, context());
  CHECK(r["socket"]["cause"] == "never_accepted");
  CHECK(r["socket"]["listen"]["address"] == "0.0.0.0");
  CHECK(r["socket"]["listen"]["port"] == 8080);
}
