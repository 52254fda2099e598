// AlertEngine: rules over per-process observations, with hysteresis. An alert fires
// when a process crosses a rule and resolves after it stays below for `resolve_after`
// consecutive evaluations. Alert ids are stable: rule, pid and process start time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/socket_table.h"

namespace sockleak {

struct AlertRules {
  uint32_t close_wait_count = 20;                 // lingering CLOSE_WAIT sockets per process
  double fd_ratio = 0.8;                          // open fds / RLIMIT_NOFILE soft limit
  Nanos emfile_within = std::chrono::hours(1);    // projected time to EMFILE
  uint32_t resolve_after = 2;                     // evaluations below before resolving
};

struct ProcessObservation {
  ProcessKey process;
  std::string name;
  uint32_t close_wait = 0;
  std::optional<uint64_t> fd_open;
  std::optional<uint64_t> fd_limit;
  std::optional<double> seconds_to_emfile;
};

struct AlertTransition {
  std::string id;
  std::string rule;  // close_wait_count | fd_ratio | emfile_soon
  bool firing = true;
  ProcessKey process;
  std::string name;
  std::optional<double> value;  // at this transition; resolved: the value now (null: unknown)
  double threshold = 0;
  std::string summary;
};

class AlertEngine {
 public:
  // Processes absent from `observed` count as below every rule.
  std::vector<AlertTransition> evaluate(const std::vector<ProcessObservation>& observed, const AlertRules& rules);
  // Every alert firing now, with its latest value.
  std::vector<AlertTransition> firing() const;
  // Firing alerts by rule, for metrics.
  std::map<std::string, uint32_t> firing_by_rule() const;

 private:
  struct Active {
    AlertTransition last;  // the firing transition, refreshed with the latest value
    uint32_t below = 0;
  };
  std::map<std::string, Active> active_;
};

}  // namespace sockleak
