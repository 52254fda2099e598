// Symbolizer: user-space addresses of a process to "function (file:line)". sockleak reads
// the process's mappings and opens only the files the addresses fall in (through
// /proc/PID/map_files: the very file mapped, even when replaced or deleted on disk); the
// parsing of those files (ELF, DWARF, Go's function table) happens in a helper process
// with no capabilities, no other files and a seccomp filter (symbolize/), so a malformed
// binary cannot take over the monitor. A helper that crashes, hangs or answers nonsense is
// replaced; its stack stays addresses. Unknown frames keep their address and module.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/process_key.h"
#include "kernel/unique_fd.h"
#include "symbolize/protocol.h"

namespace sockleak {

class Symbolizer {
 public:
  // helper: the sockleak binary to start as `helper __symbolizer` (this one by default).
  explicit Symbolizer(std::string helper = "/proc/self/exe");
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // One string per address, innermost first. A process that has exited (or pid 0) gives
  // addresses.
  std::vector<std::string> frames(const ProcessKey& process, const std::vector<uint64_t>& addresses);
  // Forget every process's mappings (they are re-read when next needed).
  void clear() { maps_.clear(); }
  // The helper's own account of its confinement ("uid=65534 caps=0 no_new_privs=1
  // seccomp=2 open=EPERM"), or why there is none.
  std::string helper_status();
  pid_t helper_pid() const { return helper_pid_; }

 private:
  struct Mapping {
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t offset = 0;
    std::string path;
  };
  const std::vector<Mapping>* maps_for(const ProcessKey& process);
  // One request and its answer of `expected` texts; nullopt (helper replaced) on failure.
  std::optional<std::vector<std::string>> ask(const SymbolizeRequest& request, const std::vector<int>& fds,
                                              size_t expected);
  bool start_helper();
  void stop_helper();

  std::string helper_path_;
  UniqueFd channel_;
  pid_t helper_pid_ = -1;
  int failures_ = 0;  // in a row; the helper is not restarted past a few
  std::map<ProcessKey, std::optional<std::vector<Mapping>>> maps_;
};

}  // namespace sockleak
