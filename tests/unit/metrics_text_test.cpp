// The Prometheus exposition: names, types, bounded labels, escaping, and a check by
// promtool itself when it is installed.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "core/metrics_text.h"

using namespace std::chrono_literals;
using sockleak::AgeHistogram;
using sockleak::MetricsInput;
using sockleak::ReportRow;
using sockleak::TcpState;

namespace {

ReportRow row(uint32_t pid, const std::string& name, TcpState state, uint32_t count, sockleak::Nanos oldest) {
  ReportRow r;
  r.group.process = {pid, pid * 1000ull};
  r.group.name = name;
  r.group.state = state;
  r.group.count = count;
  r.group.oldest = oldest;
  r.process.name = name;
  return r;
}

// Five processes, most sockets first; pid 101 has both states.
MetricsInput sample_input() {
  MetricsInput in;
  in.version = "1.2.3";
  in.report.totals.close_wait = 57;
  in.report.totals.established = 9;
  in.report.totals.unowned = 2;
  for (double age : {0.5, 3.0, 7.0, 45.0, 45.0, 4000.0, 100000.0}) in.report.close_wait_ages.add(age);
  for (double age : {400.0, 900.0}) in.report.established_ages.add(age);
  in.rows = {
      row(101, "api", TcpState::kCloseWait, 40, 120s),
      row(102, "worker", TcpState::kCloseWait, 10, 60s),
      row(101, "api", TcpState::kEstablished, 6, 900s),
      row(103, "cron", TcpState::kCloseWait, 4, 40s),
      row(104, "proxy", TcpState::kEstablished, 3, 400s),
      row(105, "batch", TcpState::kCloseWait, 3, 35s),
  };
  in.top_n = 20;
  in.stats.events_received = 12345;
  in.stats.events_lost = 7;
  in.stats.reconciles = 3;
  in.stats.reconcile_corrections = 1;
  in.stats.sockets_untracked = 0;
  in.stats.sockets_tracked = 512;
  in.map_capacity = 1024;
  in.alerts_firing = {{"close_wait_count", 2}, {"emfile_soon", 0}, {"fd_ratio", 1}};
  return in;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Sample lines only (no comments), as "name{labels}" -> value text.
struct Sample {
  std::string name;
  std::string labels;  // without braces
  std::string value;
};

std::vector<Sample> samples_of(const std::string& text) {
  std::vector<Sample> out;
  for (const std::string& line : lines_of(text)) {
    if (line.empty() || line.front() == '#') continue;
    Sample s;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (brace != std::string::npos && brace < space) {
      s.name = line.substr(0, brace);
      const size_t close = line.rfind('}');
      s.labels = line.substr(brace + 1, close - brace - 1);
    } else {
      s.name = line.substr(0, space);
    }
    s.value = line.substr(space + 1);
    out.push_back(s);
  }
  return out;
}

std::vector<Sample> samples_named(const std::string& text, const std::string& name) {
  std::vector<Sample> out;
  for (const Sample& s : samples_of(text)) {
    if (s.name == name) out.push_back(s);
  }
  return out;
}

bool contains_line(const std::string& text, const std::string& line) {
  for (const std::string& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

}  // namespace

// ---- families and host series ----

TEST_CASE("the exposition declares types and carries build info, host totals and counters", "[metrics]") {
  const std::string text = sockleak::render_metrics(sample_input());
  INFO(text);
  CHECK(contains_line(text, "# TYPE sockleak_events_total counter"));
  CHECK(contains_line(text, "# TYPE sockleak_build_info gauge"));
  CHECK(contains_line(text, "sockleak_build_info{version=\"1.2.3\"} 1"));
  CHECK(contains_line(text, "sockleak_lingering_sockets{state=\"close_wait\"} 57"));
  CHECK(contains_line(text, "sockleak_lingering_sockets{state=\"established\"} 9"));
  CHECK(contains_line(text, "sockleak_lingering_unowned_sockets 2"));
  CHECK(contains_line(text, "sockleak_events_total 12345"));
  CHECK(contains_line(text, "sockleak_events_lost_total 7"));
  CHECK(contains_line(text, "sockleak_reconciles_total 3"));
  CHECK(contains_line(text, "sockleak_reconcile_corrections_total 1"));
  CHECK(contains_line(text, "sockleak_tracked_sockets 512"));
  CHECK(contains_line(text, "sockleak_socket_map_fill_ratio 0.5"));
  CHECK(contains_line(text, "sockleak_close_tracking 0"));
  CHECK(contains_line(text, "sockleak_alerts_firing{rule=\"close_wait_count\"} 2"));
  CHECK(contains_line(text, "sockleak_alerts_firing{rule=\"fd_ratio\"} 1"));
  CHECK(contains_line(text, "sockleak_alerts_firing{rule=\"emfile_soon\"} 0"));
}

TEST_CASE("the map fill ratio is 0 when the map capacity is unknown", "[metrics]") {
  MetricsInput in = sample_input();
  in.map_capacity = 0;
  CHECK(contains_line(sockleak::render_metrics(in), "sockleak_socket_map_fill_ratio 0"));
}

TEST_CASE("the build version label is escaped", "[metrics]") {
  MetricsInput in = sample_input();
  in.version = "1.0 \"dev\"";
  CHECK(contains_line(sockleak::render_metrics(in), "sockleak_build_info{version=\"1.0 \\\"dev\\\"\"} 1"));
}

TEST_CASE("every metric name has the sockleak_ prefix, and only counters end in _total", "[metrics]") {
  const std::string text = sockleak::render_metrics(sample_input());
  std::map<std::string, std::string> types;
  for (const std::string& line : lines_of(text)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream words(line.substr(7));
    std::string name, type;
    words >> name >> type;
    types[name] = type;
  }
  REQUIRE(types.size() >= 10);
  for (const auto& [name, type] : types) {
    INFO(name << " " << type);
    CHECK_THAT(name, Catch::StartsWith("sockleak_"));
    const bool total = name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0;
    CHECK(total == (type == "counter"));
  }
  for (const Sample& s : samples_of(text)) {
    INFO(s.name);
    CHECK_THAT(s.name, Catch::StartsWith("sockleak_"));
  }
}

TEST_CASE("every family has HELP and TYPE before its samples", "[metrics]") {
  const std::string text = sockleak::render_metrics(sample_input());
  std::set<std::string> helped, typed;
  for (const std::string& line : lines_of(text)) {
    std::istringstream words(line);
    std::string first, second, name;
    if (line.rfind("# HELP ", 0) == 0) {
      words >> first >> second >> name;
      helped.insert(name);
    } else if (line.rfind("# TYPE ", 0) == 0) {
      words >> first >> second >> name;
      typed.insert(name);
    }
  }
  for (const Sample& s : samples_of(text)) {
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (family.size() > sfx.size() && family.compare(family.size() - sfx.size(), sfx.size(), sfx) == 0 &&
          typed.contains(family.substr(0, family.size() - sfx.size()))) {
        family = family.substr(0, family.size() - sfx.size());
      }
    }
    INFO(s.name);
    CHECK(helped.contains(family));
    CHECK(typed.contains(family));
  }
}

// ---- histograms ----

TEST_CASE("age histogram buckets are cumulative and end with +Inf equal to the count", "[metrics]") {
  const std::string text = sockleak::render_metrics(sample_input());
  INFO(text);
  CHECK(contains_line(text, "# TYPE sockleak_linger_age_seconds histogram"));
  for (const std::string state : {"close_wait", "established"}) {
    const std::string prefix = "state=\"" + state + "\",le=";
    std::vector<Sample> buckets;
    for (const Sample& s : samples_named(text, "sockleak_linger_age_seconds_bucket")) {
      if (s.labels.rfind(prefix, 0) == 0) buckets.push_back(s);
    }
    REQUIRE(buckets.size() == AgeHistogram::kBounds.size() + 1);
    double previous = 0;
    for (const Sample& b : buckets) {
      const double v = std::stod(b.value);
      CHECK(v >= previous);
      previous = v;
    }
    CHECK(buckets.back().labels == prefix + "\"+Inf\"");
    const auto counts = samples_named(text, "sockleak_linger_age_seconds_count");
    const auto sums = samples_named(text, "sockleak_linger_age_seconds_sum");
    bool found_count = false;
    for (const Sample& c : counts) {
      if (c.labels != "state=\"" + state + "\"") continue;
      found_count = true;
      CHECK(c.value == buckets.back().value);
    }
    CHECK(found_count);
    CHECK(sums.size() == 2);
  }
  // close_wait: 0.5 | 3 | 7 | 45 45 | 4000 | 100000 (beyond the last bound: only in +Inf).
  CHECK(contains_line(text, "sockleak_linger_age_seconds_bucket{state=\"close_wait\",le=\"1\"} 1"));
  CHECK(contains_line(text, "sockleak_linger_age_seconds_bucket{state=\"close_wait\",le=\"5\"} 2"));
  CHECK(contains_line(text, "sockleak_linger_age_seconds_bucket{state=\"close_wait\",le=\"10\"} 3"));
  CHECK(contains_line(text, "sockleak_linger_age_seconds_bucket{state=\"close_wait\",le=\"60\"} 5"));
  CHECK(contains_line(text, "sockleak_linger_age_seconds_bucket{state=\"close_wait\",le=\"21600\"} 6"));
  CHECK(contains_line(text, "sockleak_linger_age_seconds_bucket{state=\"close_wait\",le=\"+Inf\"} 7"));
  CHECK(contains_line(text, "sockleak_linger_age_seconds_count{state=\"close_wait\"} 7"));
  CHECK(contains_line(text, "sockleak_linger_age_seconds_sum{state=\"close_wait\"} 104100.5"));
  CHECK(contains_line(text, "sockleak_linger_age_seconds_sum{state=\"established\"} 1300"));
}

TEST_CASE("empty histograms are still well formed", "[metrics]") {
  MetricsInput in;
  in.version = "0";
  const std::string text = sockleak::render_metrics(in);
  CHECK(contains_line(text, "sockleak_linger_age_seconds_bucket{state=\"close_wait\",le=\"+Inf\"} 0"));
  CHECK(contains_line(text, "sockleak_linger_age_seconds_count{state=\"established\"} 0"));
  CHECK(contains_line(text, "sockleak_linger_age_seconds_sum{state=\"established\"} 0"));
}

// ---- per-process series ----

TEST_CASE("per-process series exist only for the top-N processes", "[metrics]") {
  MetricsInput in = sample_input();
  in.top_n = 2;
  const std::string text = sockleak::render_metrics(in);
  INFO(text);
  for (const char* name : {"sockleak_process_lingering_sockets", "sockleak_process_oldest_linger_seconds"}) {
    std::set<std::string> pids;
    for (const Sample& s : samples_named(text, name)) {
      const size_t start = s.labels.find("pid=\"") + 5;
      pids.insert(s.labels.substr(start, s.labels.find('"', start) - start));
    }
    CHECK(pids == std::set<std::string>{"101", "102"});
  }
  // Both states of a top process, even though its ESTABLISHED row ranks below the cut.
  CHECK(contains_line(text, "sockleak_process_lingering_sockets{pid=\"101\",process=\"api\",state=\"close_wait\"} 40"));
  CHECK(contains_line(text, "sockleak_process_lingering_sockets{pid=\"101\",process=\"api\",state=\"established\"} 6"));
  CHECK(contains_line(text, "sockleak_process_lingering_sockets{pid=\"102\",process=\"worker\",state=\"close_wait\"} 10"));
  CHECK(contains_line(text,
                      "sockleak_process_oldest_linger_seconds{pid=\"101\",process=\"api\",state=\"established\"} 900"));
  CHECK(samples_named(text, "sockleak_process_lingering_sockets").size() == 3);
  CHECK(text.find("pid=\"103\"") == std::string::npos);
  CHECK(text.find("pid=\"105\"") == std::string::npos);
}

TEST_CASE("with a large top-N every process gets its series", "[metrics]") {
  const std::string text = sockleak::render_metrics(sample_input());
  CHECK(samples_named(text, "sockleak_process_lingering_sockets").size() == 6);
  CHECK(samples_named(text, "sockleak_process_oldest_linger_seconds").size() == 6);
}

TEST_CASE("per-process labels never carry addresses or ports", "[metrics]") {
  MetricsInput in = sample_input();
  in.rows.front().group.top_peers = {{sockleak::Endpoint{SL_AF_INET, {10, 9, 8, 7}, 8080}, 40}};
  const std::string text = sockleak::render_metrics(in);
  CHECK(text.find("10.9.8.7") == std::string::npos);
  CHECK(text.find("8080") == std::string::npos);
}

TEST_CASE("process names in labels are escaped", "[metrics]") {
  MetricsInput in = sample_input();
  in.rows = {row(101, "a\"b\\c\nd", TcpState::kCloseWait, 1, 31s)};
  const std::string text = sockleak::render_metrics(in);
  CHECK(contains_line(text,
                      "sockleak_process_lingering_sockets{pid=\"101\",process=\"a\\\"b\\\\c\\nd\",state=\"close_wait\"} 1"));
}

// ---- label_value ----

TEST_CASE("label_value escapes backslash, double quote and newline", "[metrics]") {
  CHECK(sockleak::label_value("plain-name_1.2") == "plain-name_1.2");
  CHECK(sockleak::label_value("a\\b") == "a\\\\b");
  CHECK(sockleak::label_value("say \"hi\"") == "say \\\"hi\\\"");
  CHECK(sockleak::label_value("one\ntwo") == "one\\ntwo");
  CHECK(sockleak::label_value("") == "");
}

TEST_CASE("label_value replaces control and non-ASCII bytes", "[metrics]") {
  CHECK(sockleak::label_value("tab\there") == "tab?here");
  CHECK(sockleak::label_value("cr\r") == "cr?");
  CHECK(sockleak::label_value(std::string("nul\0x", 5)) == "nul?x");
  CHECK(sockleak::label_value("del\x7f") == "del?");
  CHECK(sockleak::label_value("caf\xc3\xa9") == "caf??");  // UTF-8 é: two bytes
  CHECK(sockleak::label_value("\xff") == "?");
  for (char c : sockleak::label_value("\x01\x1f\x80\xfe ok")) {
    const auto u = static_cast<unsigned char>(c);
    CHECK(u >= 0x20);
    CHECK(u < 0x7f);
  }
}

// ---- promtool ----

TEST_CASE("promtool accepts the exposition", "[metrics][promtool]") {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    WARN("promtool not on PATH; skipping the promtool check");
    return;
  }
  MetricsInput in = sample_input();
  in.rows.push_back(row(106, "we\"ird\\name\n\x01\xc3\xa9", TcpState::kCloseWait, 2, 31s));
  const std::string text = sockleak::render_metrics(in);
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("sockleak-metrics-" + std::to_string(::getpid()) + ".prom");
  {
    std::ofstream out(file);
    REQUIRE(out);
    out << text;
  }
  const std::string output = file.string() + ".out";
  const int status = std::system(("promtool check metrics < '" + file.string() + "' > '" + output + "' 2>&1").c_str());
  std::ifstream result(output);
  const std::string said((std::istreambuf_iterator<char>(result)), std::istreambuf_iterator<char>());
  std::filesystem::remove(file);
  std::filesystem::remove(output);
  INFO("promtool: " << said << "\nexposition:\n" << text);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

// Regression: found by this test and fixed.
TEST_CASE("two processes sharing a pid do not produce duplicate series", "[metrics]") {
  MetricsInput in = sample_input();
  ReportRow old_api = row(101, "api", TcpState::kCloseWait, 40, 120s);
  ReportRow new_api = row(101, "api", TcpState::kCloseWait, 5, 40s);
  new_api.group.process.start_ns = old_api.group.process.start_ns + 1;
  in.rows = {old_api, new_api};
  const std::string text = sockleak::render_metrics(in);
  INFO(text);
  std::set<std::string> seen;
  for (const Sample& s : samples_of(text)) {
    INFO(s.name << "{" << s.labels << "}");
    CHECK(seen.insert(s.name + "{" + s.labels + "}").second);
  }
}
