// OutputSink: where records go — stdout, or a file appended to and reopened on SIGHUP
// (logrotate). A closed stdout pipe (log shipper gone) ends the run cleanly; any other
// write failure (full disk, I/O error) is a runtime failure.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

namespace sockleak {

class OutputSink {
 public:
  // Opens path for appending (throws Error naming it), or uses stdout.
  explicit OutputSink(std::optional<std::string> path);
  ~OutputSink();
  OutputSink(const OutputSink&) = delete;
  OutputSink& operator=(const OutputSink&) = delete;

  // False once stdout's reader is gone (EPIPE); throws Error on any other write failure.
  bool write(const std::string& text);
  // Reopens the file (same or new path); stdout stays stdout.
  void reopen(std::optional<std::string> path);

 private:
  std::optional<std::string> path_;
  std::FILE* file_ = nullptr;
  bool closed_ = false;
};

}  // namespace sockleak
