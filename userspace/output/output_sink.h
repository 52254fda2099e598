// OutputSink: where records go — stdout, or a file appended to and reopened on SIGHUP
// (logrotate). A closed stdout (log shipper gone) is reported, not fatal.
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

  // False once stdout's reader is gone; throws Error when a file write fails.
  bool write(const std::string& text);
  // Reopens the file (same or new path); stdout stays stdout.
  void reopen(std::optional<std::string> path);

 private:
  std::optional<std::string> path_;
  std::FILE* file_ = nullptr;
  bool closed_ = false;
};

}  // namespace sockleak
