// ProcReader: what /proc says about a process (name, fd usage, start) and whether a
// (pid, start time) is still the same live process.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/report_rows.h"
#include "core/socket_table.h"

namespace sockleak {

class ProcReader {
 public:
  // container_logs: the kubelet's /var/log/containers, for pod and container names.
  explicit ProcReader(std::string proc_root = "/proc", std::string container_logs = "/var/log/containers");

  bool alive(const ProcessKey& key) const;
  // The live process with this pid, or nullopt.
  std::optional<ProcessKey> key_of(uint32_t pid) const;
  // name_hint is used when the process is gone or /proc is unreadable.
  ProcessDetails details(const ProcessKey& key, const std::string& name_hint) const;
  // Socket inodes in the process's fd table, each with how many fds refer to it; nullopt
  // when the table cannot be read (gone, or no permission).
  std::optional<std::map<uint32_t, uint32_t>> socket_fds(const ProcessKey& key) const;

 private:
  std::optional<uint64_t> start_ticks(uint32_t pid) const;
  // /proc/PID/fd, or a thread's fd directory when the leader's is empty (leader exited).
  std::string fd_dir(uint32_t pid) const;
  // Container, pod and unit from /proc/PID/cgroup, names from the kubelet's log links.
  WorkloadIdentity identity(uint32_t pid) const;
  std::string root_;
  std::string container_logs_;
  int64_t ticks_per_second_;
  int64_t boottime_offset_ns_;  // of sockleak's time namespace
  int64_t boot_realtime_ns_;  // CLOCK_REALTIME at boot, to place start times on the wall clock
};

}  // namespace sockleak
