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
  explicit ProcReader(std::string proc_root = "/proc");

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
  std::string root_;
  int64_t ticks_per_second_;
  int64_t boottime_offset_ns_;  // of sockleak's time namespace
  int64_t boot_realtime_ns_;  // CLOCK_REALTIME at boot, to place start times on the wall clock
};

}  // namespace sockleak
