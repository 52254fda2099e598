// Test support: a running `sockleak` whose NDJSON records the test reads, plus the
// kernel ground truth from `ss -tanpH`.
#pragma once

#include <chrono>
#include <functional>
#include <map>
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
  // Linger records of the next whole report cycle (they precede its stats record),
  // and that stats record.
  std::pair<std::vector<Record>, Record> next_cycle(std::chrono::milliseconds timeout);
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
// Per-process socket counts for an ss state filter ("close-wait", "established"), as
// `ss -tanpH` (inside netns when given) shows them: a socket counts once per holder.
std::map<pid_t, int> ss_counts(const std::string& state, const std::string& netns = "");
// Per-process counts from the fd tables: distinct socket inodes in /proc/PID/fd whose
// socket is in that state (state from `ss -tanHe`, holders from /proc, not from ss -p).
std::map<pid_t, int> proc_fd_counts(const std::string& state);
// Sockets in that state on the whole host (or netns), each counted once.
int ss_total(const std::string& state, const std::string& netns = "");
// Sockets in state whose local (side "sport") or remote ("dport") port is port: ground truth
// for sockets ss cannot name a process for (never accepted, held by a leaderless process).
int ss_on_port(const std::string& state, const std::string& side, const std::string& port);
// Per-process counts from linger records of one state ("CLOSE_WAIT", "ESTABLISHED").
std::map<pid_t, int> linger_counts(const std::vector<Record>& records, const std::string& state);
// Keeps only the given pids.
std::map<pid_t, int> only(const std::map<pid_t, int>& counts, const std::vector<pid_t>& pids);

class NetNamespace;

// sl_http_server on loopback (or in ns), started and its port read. Default: closes every
// connection at once, so its clients go CLOSE_WAIT.
struct LoopbackServer {
  ChildProcess process;
  std::string port;
  explicit LoopbackServer(std::vector<std::string> extra = {"--idle-close-ms", "1"}, const NetNamespace* ns = nullptr,
                          const std::string& bind = "127.0.0.1");
};

// A network namespace for one test, deleted on destruction.
class NetNamespace {
 public:
  NetNamespace();
  ~NetNamespace();
  const std::string& name() const { return name_; }
  uint64_t inode() const;
  // argv prefixed with `ip netns exec NAME`.
  std::vector<std::string> exec(std::vector<std::string> argv) const;

 private:
  std::string name_;
};

}  // namespace sockleak::test
