// Symbolizer: user-space addresses of a process to "function (file:line)", using elfutils
// libdwfl on /proc/PID/maps and the mapped files (PIE, shared libraries, deleted or
// replaced binaries through /proc/PID/map_files). Unknown frames keep their address and
// module, so a stripped binary still says where to look (with its build-id).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/go_pclntab.h"
#include "core/process_key.h"

struct Dwfl;
struct Dwfl_Module;

namespace sockleak {

class Symbolizer {
 public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // One string per address, innermost first. A process that has exited (or pid 0) gives
  // addresses.
  std::vector<std::string> frames(const ProcessKey& process, const std::vector<uint64_t>& addresses);
  // Forget every process's mappings (they are re-read when next needed).
  void clear() {
    go_tables_.clear();
    sessions_.clear();
  }

 private:
  struct DwflDeleter {
    void operator()(Dwfl* dwfl) const;
  };
  Dwfl* session_for(const ProcessKey& process);
  std::map<ProcessKey, std::unique_ptr<Dwfl, DwflDeleter>> sessions_;
  // Go function tables of the sessions' modules (nullopt: not a Go program).
  std::map<Dwfl_Module*, std::optional<GoFuncTable>> go_tables_;
};

}  // namespace sockleak
