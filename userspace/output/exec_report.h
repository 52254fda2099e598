// What `sockleak exec` tells at the end of a run: a summary for people (stderr), NDJSON
// records for CI systems (--output) and a JUnit XML report (--junit).
#pragma once

#include <string>
#include <vector>

#include "core/report_rows.h"
#include "output/json_records.h"

namespace sockleak {

struct ExecOutcome {
  std::vector<std::string> argv;
  std::string command_status;  // "exited 0", "killed by SIGTERM"
  int command_code = 0;        // as a shell shows it: the exit status, or 128 + signal
  bool command_failed = false;
  bool command_signaled = false;  // killed by a signal: sockleak ends by the same one
  int exit_code = 0;           // sockleak's own
  double seconds = 0;
  size_t processes = 0;        // in the watched tree
  std::vector<ReportRow> lingered;      // past a threshold at some report
  std::vector<ReportRow> never_closed;  // CLOSE_WAIT sockets closed only by their process's exit
  Thresholds thresholds;
  uint64_t events_lost = 0;
  bool leaked() const { return !lingered.empty() || !never_closed.empty(); }
};

// The command line as one shell-like string ("go test ./...").
std::string command_text(const std::vector<std::string>& argv);
// Lines for stderr, each starting "sockleak: " or indented under one.
std::string exec_summary(const ExecOutcome& outcome);
// One `leak` record per finding, then one `exec` record (README "Output").
std::vector<nlohmann::ordered_json> exec_records(const ExecOutcome& outcome, const RecordContext& ctx);
// One test suite: a failing test case per finding, or one passing case.
std::string junit_report(const ExecOutcome& outcome);

}  // namespace sockleak
