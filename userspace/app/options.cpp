#include "app/options.h"

#include <sstream>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/error.h"

namespace sockleak {
namespace {

constexpr const char* kFooter = R"(Examples:
  sockleak run                                  stream NDJSON every 10s (CLOSE_WAIT > 30s, idle ESTABLISHED > 5m)
  sockleak run --close-wait 5s --format text    watch a table in a terminal
  sockleak run --comm myservice --interval 1s --duration 1m
  sockleak snapshot --close-wait 1m             one report now; exit 1 if anything lingers

Exit codes: 0 ok (snapshot: nothing lingers), 1 snapshot found lingering sockets,
2 usage error, 3 runtime failure, 77 missing privileges or kernel support.
Needs root, or CAP_BPF + CAP_PERFMON (+ CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH for /proc).)";

// Raw option text, turned into typed values after CLI11 is done.
struct RawOptions {
  std::string close_wait = "30s";
  std::string established_idle = "5m";
  std::string interval = "10s";
  std::string reconcile_interval = "30s";
  std::string duration;
  std::vector<uint32_t> pids;
  std::vector<std::string> comms;
  int64_t min_count = 1;
  std::string format = "json";
  bool verbose = false;
  int64_t ring_buffer_kib = 1024;
};

void add_common(CLI::App& cmd, RawOptions& raw, bool streaming) {
  cmd.add_option("--close-wait", raw.close_wait,
                 "Report CLOSE_WAIT sockets older than this (e.g. 500ms, 30s, 5m)")
      ->capture_default_str();
  cmd.add_option("--established-idle", raw.established_idle,
                 "Report ESTABLISHED sockets with no data sent or received for this long")
      ->capture_default_str();
  cmd.add_option("--pid", raw.pids, "Only report these process IDs (repeatable)");
  cmd.add_option("--comm", raw.comms, "Only report processes with this name (repeatable)");
  cmd.add_option("--min-count", raw.min_count,
                 "Only report a (process, state) with at least this many lingering sockets")
      ->capture_default_str();
  cmd.add_option("--format", raw.format, "Output format: json (NDJSON) or text")
      ->check(CLI::IsMember({"json", "text"}))
      ->capture_default_str();
  cmd.add_flag("-v,--verbose", raw.verbose, "Log libbpf and progress details to stderr");
  cmd.add_option("--ring-buffer-kib", raw.ring_buffer_kib,
                 "Kernel event ring buffer size in KiB (power of two, 4..1048576); losses are counted")
      ->capture_default_str();
  if (!streaming) return;
  cmd.add_option("--interval", raw.interval, "Report every this long")->capture_default_str();
  cmd.add_option("--reconcile-interval", raw.reconcile_interval,
                 "Re-read every process's fd table this often (fixes missed events)")
      ->capture_default_str();
  cmd.add_option("--duration", raw.duration, "Stop after this long (default: until SIGINT/SIGTERM)");
}

Nanos duration_option(const std::string& flag, const std::string& text) {
  try {
    return parse_duration(text);
  } catch (const Error& e) {
    throw Error(flag + ": " + e.what(), kExitUsage);
  }
}

Options to_options(const RawOptions& raw, Command command) {
  Options o;
  o.command = command;
  o.thresholds.close_wait = duration_option("--close-wait", raw.close_wait);
  o.thresholds.established_idle = duration_option("--established-idle", raw.established_idle);
  o.interval = duration_option("--interval", raw.interval);
  o.reconcile_interval = duration_option("--reconcile-interval", raw.reconcile_interval);
  if (!raw.duration.empty()) o.duration = duration_option("--duration", raw.duration);
  if (o.interval < std::chrono::milliseconds(100)) {
    throw Error("--interval: must be at least 100ms", kExitUsage);
  }
  if (o.reconcile_interval < o.interval) {
    throw Error("--reconcile-interval: must not be shorter than --interval", kExitUsage);
  }
  if (raw.min_count < 1 || raw.min_count > 1'000'000'000) {
    throw Error("--min-count: must be between 1 and 1000000000", kExitUsage);
  }
  o.filter.min_count = static_cast<uint32_t>(raw.min_count);
  const int64_t kib = raw.ring_buffer_kib;
  if (kib < 4 || kib > 1048576 || (kib & (kib - 1)) != 0) {
    throw Error("--ring-buffer-kib: must be a power of two between 4 and 1048576", kExitUsage);
  }
  o.ring_buffer_kib = static_cast<uint32_t>(kib);
  o.filter.pids.insert(raw.pids.begin(), raw.pids.end());
  o.filter.comms.insert(raw.comms.begin(), raw.comms.end());
  o.format = raw.format == "text" ? Format::kText : Format::kJson;
  o.verbose = raw.verbose;
  return o;
}

}  // namespace

ParseOutcome parse_options(int argc, const char* const* argv) {
  CLI::App app{"sockleak: find socket leaks (CLOSE_WAIT and idle ESTABLISHED TCP sockets) per process",
               "sockleak"};
  app.set_version_flag("--version", "sockleak " SOCKLEAK_VERSION);
  app.footer(kFooter);
  app.require_subcommand(1);
  RawOptions run_raw;
  RawOptions snap_raw;
  CLI::App* run = app.add_subcommand("run", "Monitor continuously; NDJSON records to stdout");
  CLI::App* snapshot = app.add_subcommand("snapshot", "Report once from the kernel's current state");
  add_common(*run, run_raw, true);
  add_common(*snapshot, snap_raw, false);
  run->footer(kFooter);
  snapshot->footer(kFooter);

  std::ostringstream out;
  std::ostringstream err;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    if (code == 0) return {std::nullopt, kExitOk, out.str()};
    return {std::nullopt, kExitUsage, "sockleak: " + std::string(e.what()) + "\nRun 'sockleak --help' for usage.\n"};
  }
  try {
    if (run->parsed()) return {to_options(run_raw, Command::kRun), kExitOk, ""};
    return {to_options(snap_raw, Command::kSnapshot), kExitOk, ""};
  } catch (const Error& e) {
    return {std::nullopt, e.exit_code(), "sockleak: " + std::string(e.what()) + "\n"};
  }
}

}  // namespace sockleak
