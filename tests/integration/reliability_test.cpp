// Root integration tests for reliability: a full kernel socket map, SIGTERM under heavy
// churn, processes with very many fds, and process names that are not valid UTF-8.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "child_process.h"
#include "sockleak_run.h"

using namespace std::chrono_literals;
using namespace sockleak::test;

namespace {


// sl_socket_scenarios up to READY; returns the process.
std::unique_ptr<ChildProcess> scenario(const std::string& port, const std::string& name, int count,
                                       std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{SOCKET_SCENARIOS_BIN, "--port", port, "--scenario", name, "--count",
                                std::to_string(count)};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = std::make_unique<ChildProcess>(argv);
  expect_line_prefix(*p, "READY");
  return p;
}

// Open fds of a process: every thread's fd table (each thread here has its own).
size_t fds_of_process(pid_t pid) {
  size_t total = 0;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    for ([[maybe_unused]] const auto& fd : std::filesystem::directory_iterator(task.path() / "fd")) ++total;
  }
  return total;
}

}  // namespace

TEST_CASE("with the kernel socket map full, every lingering socket is still reported exactly", "[map_overflow]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  SockleakRun sockleak({"run", "--close-wait", "1s", "--interval", "1s", "--duration", "60s", "--max-sockets", "64"});
  auto leaker = scenario(server.port, "plain", 150);
  const pid_t pid = leaker->pid();
  std::optional<std::pair<std::vector<Record>, Record>> cycle;
  for (int i = 0; i < 10 && !cycle; ++i) {
    auto c = sockleak.next_cycle(10s);
    if (only(linger_counts(c.first, "CLOSE_WAIT"), {pid}) == std::map<pid_t, int>{{pid, 150}}) cycle = c;
  }
  REQUIRE(cycle);
  CHECK(only(linger_counts(cycle->first, "CLOSE_WAIT"), {pid}) == only(ss_counts("close-wait"), {pid}));
  const int untracked = cycle->second["sockets"]["untracked_map_full"].get<int>();
  CHECK(untracked >= 150 - 64);
  CHECK(cycle->second["sockets"]["tracked"].get<int>() <= 64);
  // Stays right on later reports too (no permanent misattribution), and the untracked
  // sockets are counted once each, not once per reconcile that tried them again.
  for (int i = 0; i < 3; ++i) {
    auto later = sockleak.next_cycle(10s);
    CHECK(only(linger_counts(later.first, "CLOSE_WAIT"), {pid}) == std::map<pid_t, int>{{pid, 150}});
    CHECK(later.second["sockets"]["untracked_map_full"].get<int>() == untracked);
  }
}

TEST_CASE("SIGTERM during heavy connection churn stops sockleak within a second", "[sigterm_churn]") {
  SockleakRun sockleak({"run", "--interval", "1s"});
  ChildProcess churn({CHURN_BIN, "--seconds", "6"});
  std::this_thread::sleep_for(2s);
  const auto sent = std::chrono::steady_clock::now();
  sockleak.process().signal(SIGTERM);
  CHECK(sockleak.process().wait(5s) == 0);
  CHECK(std::chrono::steady_clock::now() - sent < 1s);
  churn.wait(10s);
}

TEST_CASE("a process holding over 100,000 fds, and others with ~76,000, do not stall reports", "[many_fds]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  // RLIMIT_NOFILE (hard 20000 here, no CAP_SYS_RESOURCE to raise it) bounds each fd table,
  // so the big process spreads 6 x 17,000 fds over threads with their own tables. It also
  // leaks 40 connections.
  auto fat = scenario(server.port, "fds", 17000, {"--fd-tables", "6", "--connect", "40"});
  REQUIRE(fds_of_process(fat->pid()) > 100000);
  std::vector<std::unique_ptr<ChildProcess>> others;
  for (int i = 0; i < 4; ++i) others.push_back(scenario(server.port, "fds", 19000));
  SockleakRun sockleak({"run", "--close-wait", "1s", "--interval", "1s", "--reconcile-interval", "1s",
                        "--duration", "60s"});
  std::vector<std::chrono::steady_clock::time_point> stats_at;
  bool reported = false;
  for (int i = 0; i < 6; ++i) {
    auto cycle = sockleak.next_cycle(10s);
    stats_at.push_back(std::chrono::steady_clock::now());
    reported = reported || only(linger_counts(cycle.first, "CLOSE_WAIT"), {fat->pid()}) ==
                               std::map<pid_t, int>{{fat->pid(), 40}};
  }
  CHECK(reported);
  for (size_t i = 1; i < stats_at.size(); ++i) CHECK(stats_at[i] - stats_at[i - 1] < 1800ms);
}

TEST_CASE("process names with invalid UTF-8 and control characters produce valid JSON", "[weird_comm]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  SockleakRun sockleak({"run", "--close-wait", "1s", "--interval", "1s", "--duration", "60s"});
  auto leaker = scenario(server.port, "plain", 5, {"--comm", "bad\xff\xfe\n\x01\"x"});
  // SockleakRun parses every line with nlohmann::json: an invalid line would throw here.
  auto record = sockleak.wait_for([&](const Record& r) { return is_linger(r, leaker->pid(), "CLOSE_WAIT"); }, 15s);
  REQUIRE(record);
  const std::string name = (*record)["process"]["name"];
  CHECK(name.rfind("bad", 0) == 0);
  CHECK(name.find("\xEF\xBF\xBD") != std::string::npos);  // U+FFFD for the invalid bytes
  CHECK(name.find('\n') != std::string::npos);            // escaped in JSON, intact after parsing
  CHECK(name.find("\"x") != std::string::npos);
}

TEST_CASE("over a million fds on the host: the kernel's retry hint ends no reconcile, the leak is counted",
          "[million_fds]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  // The fd hogs come first (lower pids, walked first): the iterator then visits a million
  // objects with nothing to output, and the kernel asks the reader to retry (EAGAIN).
  std::vector<std::unique_ptr<ChildProcess>> hogs;
  size_t total = 0;
  while (total < 1'050'000) {
    hogs.push_back(scenario(server.port, "fds", 17000, {"--fd-tables", "6"}));
    total += fds_of_process(hogs.back()->pid());
  }
  auto leaker = scenario(server.port, "plain", 40);
  std::this_thread::sleep_for(1500ms);
  ChildProcess snapshot({SOCKLEAK_BIN, "snapshot", "--close-wait", "1s", "--pid", std::to_string(leaker->pid())});
  std::vector<Record> records;
  while (auto line = snapshot.read_line(60s)) records.push_back(Record::parse(*line));
  CHECK(snapshot.wait(60s) == 1);
  CHECK(linger_counts(records, "CLOSE_WAIT") == std::map<pid_t, int>{{leaker->pid(), 40}});
  CHECK(only(ss_counts("close-wait"), {leaker->pid()}) == std::map<pid_t, int>{{leaker->pid(), 40}});
}

TEST_CASE("a leak that stopped growing has a zero rate and no EMFILE forecast in every record", "[flat_forecast]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  auto leaker = scenario(server.port, "plain", 12);
  SockleakRun sockleak({"run", "--close-wait", "1s", "--interval", "1s", "--duration", "60s"});
  int records = 0;
  for (int i = 0; i < 10; ++i) {
    auto [lingers, stats] = sockleak.next_cycle(10s);
    for (const Record& r : lingers) {
      if (r["process"]["pid"] != leaker->pid()) continue;
      ++records;
      CHECK(r["socket"]["count"] == 12);
      CHECK(r["process"]["fd"]["exhaustion_eta_seconds"].is_null());
      const Record& rate = r["socket"]["leak_rate_per_minute"];
      CHECK((rate.is_null() || rate.get<double>() == 0.0));
    }
  }
  CHECK(records >= 8);
}

TEST_CASE("scans longer than the kernel's iterator buffer count each socket once and lose no row", "[scan_counters]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  // 600 rows of 152 bytes: several reads of the 32 KiB iterator buffer per scan, each
  // ending in a row the kernel shows again at the next read.
  auto leaker = scenario(server.port, "plain", 600);
  SockleakRun sockleak({"run", "--close-wait", "1s", "--interval", "1s", "--duration", "60s"});
  std::optional<int> tracked;
  int settled = 0;
  for (int i = 0; i < 12 && settled < 3; ++i) {
    auto [lingers, stats] = sockleak.next_cycle(10s);
    if (only(linger_counts(lingers, "CLOSE_WAIT"), {leaker->pid()}) != std::map<pid_t, int>{{leaker->pid(), 600}}) {
      continue;
    }
    const int now = stats["sockets"]["tracked"].get<int>();
    CHECK(now >= 600);
    if (tracked) CHECK(now == *tracked);  // nothing changed: the same entries, counted once
    tracked = now;
    ++settled;
  }
  CHECK(settled == 3);
}
