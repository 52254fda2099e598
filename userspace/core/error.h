// One error type for the whole program: a message with context and the exit code it maps to.
#pragma once

#include <stdexcept>
#include <string>

namespace sockleak {

// Documented process exit codes (README "Exit codes").
enum ExitCode : int {
  kExitOk = 0,            // ran fine; snapshot: nothing lingers
  kExitLingering = 1,     // snapshot: something lingers past the thresholds
  kExitUsage = 2,         // bad flag, value or combination
  kExitRuntime = 3,       // unexpected runtime failure (I/O, kernel call failed mid-run)
  kExitUnsupported = 77,  // missing privileges or kernel support
};

class Error : public std::runtime_error {
 public:
  Error(const std::string& message, int exit_code = kExitRuntime)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

}  // namespace sockleak
