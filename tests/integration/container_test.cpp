// Root integration tests for sockleak where containers put it: in a pid namespace of its
// own (a sidecar sharing its pod's processes). Ground truth is `ss -tanp` run in the same
// namespace, which names processes by the pids that namespace gives them.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "sockleak_run.h"

using namespace std::chrono_literals;
using namespace sockleak::test;

namespace {

// CLOSE_WAIT sockets per pid in ss lines ("SS " + an `ss -tanpH` line).
std::map<pid_t, int> counts_from_ss(const std::vector<std::string>& lines) {
  std::map<pid_t, int> counts;
  for (const std::string& line : lines) {
    if (size_t at = line.find("pid="); at != std::string::npos) ++counts[std::stoi(line.substr(at + 4))];
  }
  return counts;
}

}  // namespace

TEST_CASE("in a pid namespace, pids are the namespace's, /proc is read by them, and outsiders are not counted",
          "[pid_namespace]") {
  LoopbackServer server({"--idle-close-ms", "100"});
  // A leaker outside the namespace, at the same time.
  ChildProcess outsider({HTTP_CLIENT_BIN, "--port", server.port, "--mode", "leak", "--count", "7"});
  expect_line_prefix(outsider, "READY ");
  const std::string inside_leaker = std::string(HTTP_CLIENT_BIN) + " --port " + server.port +
                                    " --mode leak --count 5 --max-seconds 60 >/dev/null </dev/null &";
  const std::string script = inside_leaker + " sleep 1.5; " + SOCKLEAK_BIN +
                             " snapshot --close-wait 1s; echo EXIT $?; " + SOCKLEAK_BIN +
                             " run --close-wait 1s --interval 1s --duration 2s; "
                             "ss -tanpH state close-wait | sed 's/^/SS /'";
  ChildProcess pod({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "/bin/sh", "-c", script});
  std::vector<Record> snapshot;
  std::vector<Record> run;
  std::vector<std::string> ss;
  int snapshot_exit = -1;
  while (auto line = pod.read_line(30s)) {
    if (line->rfind("SS ", 0) == 0) {
      ss.push_back(*line);
    } else if (line->rfind("EXIT ", 0) == 0) {
      snapshot_exit = std::stoi(line->substr(5));
    } else {
      (snapshot_exit < 0 ? snapshot : run).push_back(Record::parse(*line));
    }
  }
  CHECK(pod.wait(10s) == 0);
  CHECK(snapshot_exit == 1);
  const std::map<pid_t, int> truth = counts_from_ss(ss);
  REQUIRE(truth.size() == 1);
  const pid_t pid = truth.begin()->first;  // the leaker's pid inside (2 or 3), not its host pid
  CHECK(pid < 10);
  CHECK(truth.begin()->second == 5);
  for (const std::vector<Record>* records : {&snapshot, &run}) {
    CHECK(linger_counts(*records, "CLOSE_WAIT") == truth);
    for (const Record& r : *records) {
      if (r["type"] == "linger") {
        CHECK(r["process"]["fd"]["open"].get<int>() >= 5);  // read from /proc by the namespace's pid
        CHECK(r["process"]["fd"].contains("limit"));
        CHECK(r["process"]["name"] == "sl_http_client");
      }
      if (r["type"] == "stats") {
        // The outsider's 7 are neither reported nor counted, not even as unowned.
        CHECK(r["sockets"]["lingering"]["unowned"] == 0);
        if (r["final"] == true) CHECK(r["sockets"]["lingering"]["close_wait"] == 5);
      }
    }
  }
  // On the host, both leakers, by host pids.
  CHECK(ss_count(outsider.pid(), "close-wait") == 7);
}
