// Test support: a running `sockleak` whose NDJSON records the test reads, plus the
// kernel ground truth from `ss -tanpH`.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "child_process.h"

namespace sockleak::test {

using Record = nlohmann::json;
using RecordPredicate = std::function<bool(const Record&)>;

class SockleakRun {
 public:
  // Starts `sockleak <args>` and waits for its first stats record (BPF attached).
  explicit SockleakRun(std::vector<std::string> args);

  // Reads records until one matches (returned) or timeout. Every record read is kept.
  std::optional<Record> wait_for(const RecordPredicate& match, std::chrono::milliseconds timeout);
  // Reads every record for this long.
  void read_for(std::chrono::milliseconds span);
  const std::vector<Record>& seen() const { return seen_; }
  ChildProcess& process() { return child_; }

 private:
  ChildProcess child_;
  std::vector<Record> seen_;
};

bool is_linger(const Record& r, pid_t pid, const std::string& state);
// Helper binary stdout "PORT 1234" -> 1234 (and READY lines); throws on timeout.
std::string expect_line_prefix(ChildProcess& child, const std::string& prefix);
// Sockets in ss state filter (e.g. "close-wait") held by pid, per `ss -tanpH`.
int ss_count(pid_t pid, const std::string& state);

}  // namespace sockleak::test
