// Command line: `sockleak run|snapshot [options]`, parsed with CLI11.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/duration.h"
#include "core/socket_table.h"

namespace sockleak {

enum class Command { kRun, kSnapshot };
enum class Format { kJson, kText };

struct Options {
  Command command = Command::kRun;
  Thresholds thresholds;
  Nanos interval = std::chrono::seconds(10);
  Nanos reconcile_interval = std::chrono::seconds(30);
  std::optional<Nanos> duration;  // run: stop after this long
  GroupFilter filter;
  Format format = Format::kJson;
  bool verbose = false;
  uint32_t ring_buffer_kib = 1024;  // kernel event ring size; power of two, >= 4
};

// Either options to run with, or a finished answer (--help, --version, usage error)
// with its text and exit code.
struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;
  std::string output;  // for stdout when exit_code is 0, stderr otherwise
};

ParseOutcome parse_options(int argc, const char* const* argv);

}  // namespace sockleak
