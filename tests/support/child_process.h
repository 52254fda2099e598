// Test support: a child process with piped stdin/stdout, killed and reaped on destruction,
// and a command runner for ground-truth tools (ss).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace sockleak::test {

class ChildProcess {
 public:
  explicit ChildProcess(std::vector<std::string> argv);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Next stdout line, or nullopt on EOF or timeout.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  void write_stdin(const std::string& text);
  void close_stdin();
  void close_stdout();
  void signal(int sig);
  // Exit code (or 128+signal), or nullopt if still running after timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  std::optional<int> status_;
};

// Runs argv to completion and returns its stdout.
std::string run_command(const std::vector<std::string>& argv);

// A new private directory under /tmp (mkdtemp); the caller removes it.
std::string make_temp_dir();

// A file's whole content ("" when it cannot be read).
std::string read_file(const std::string& path);

}  // namespace sockleak::test
