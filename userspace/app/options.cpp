#include "app/options.h"

#include <fstream>
#include <sstream>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sockleak {
namespace {

constexpr const char* kFooter = R"(Examples:
  sockleak run                                  stream NDJSON every 10s (CLOSE_WAIT > 30s, idle ESTABLISHED > 5m)
  sockleak run --close-wait 5s --format text    watch a table in a terminal
  sockleak run --comm myservice --interval 1s --duration 1m
  sockleak run --metrics-addr :9464 --output /var/log/sockleak.ndjson
  sockleak run --config /etc/sockleak.json      same keys as the long flags; flags override
  sockleak snapshot --close-wait 1m             one report now; exit 1 if anything lingers
  sockleak explain 1234 --close-wait 10s        why pid 1234 holds sockets, and what to change
  sockleak features                             what this kernel offers and which path sockleak takes
  sockleak exec -- go test ./...                run a command; fail it (exit 66) if it leaked sockets

Signals: SIGINT/SIGTERM stop (final stats record); SIGHUP reloads --config and reopens --output.
Exit codes: 0 ok (snapshot: nothing lingers), 1 snapshot found lingering sockets,
2 usage error, 3 runtime failure, 77 missing privileges or kernel support.
Needs root, or CAP_BPF + CAP_PERFMON (+ CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH for /proc).)";

// Raw option text, turned into typed values after CLI11 and the config file are done.
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
  int64_t max_sockets = 262144;
  bool no_syscall_hooks = false;
  std::string shared_holders = "reread";
  int64_t call_sites = 0;
  std::string btf;
  std::vector<std::string> disabled_features;
  std::string metrics_addr;
  int64_t metrics_top_n = 20;
  int64_t alert_close_wait_count = 20;
  double alert_fd_ratio = 0.8;
  std::string alert_emfile_within = "1h";
  int64_t alert_resolve_after = 2;
  std::vector<std::string> alertmanager_urls;
  std::string output;
  std::string config;
  uint32_t explain_pid = 0;
  std::string explain_sample = "3s";
  std::vector<std::string> exec_argv;
  std::string junit;
  int64_t leak_exit_code = 66;
};

// How sockleak meets the kernel: shared by every command, `features` included.
void add_kernel(CLI::App& cmd, RawOptions& raw) {
  cmd.add_option("--btf", raw.btf,
                 "Kernel types (BTF) for field offsets from FILE instead of /sys/kernel/btf/vmlinux; the "
                 "running kernel must still have BTF of its own, which tracepoints and iterators attach by")
      ->check(CLI::ExistingFile);
  std::vector<std::string> optional;
  for (const FeatureInfo& info : feature_table()) {
    if (!info.fallback.empty()) optional.emplace_back(info.name);
  }
  cmd.add_option("--disable-feature", raw.disabled_features,
                 "Take the fallback for this kernel feature even where the kernel offers it (repeatable or "
                 "comma-separated; see `sockleak features`)")
      ->delimiter(',')
      ->envname("SOCKLEAK_DISABLE_FEATURES")
      ->check(CLI::IsMember(optional));
}

// Options a command honours, and no others: explain is one page about one process (no
// filters that could hide it, no output format or file); call sites exist only for sockets
// created while sockleak runs, so only `run` takes --call-sites.
enum class Flags { kRun, kSnapshot, kExplain, kExec };

void add_common(CLI::App& cmd, RawOptions& raw, Flags flags) {
  const bool streaming = flags == Flags::kRun || flags == Flags::kExec;
  const bool exec = flags == Flags::kExec;
  cmd.add_option("--close-wait", raw.close_wait,
                 "Report CLOSE_WAIT sockets older than this (e.g. 500ms, 30s, 5m)")
      ->capture_default_str();
  cmd.add_option("--established-idle", raw.established_idle,
                 exec ? "Report ESTABLISHED sockets with no data sent or received for this long (off: never)"
                      : "Report ESTABLISHED sockets with no data sent or received for this long")
      ->capture_default_str();
  if (exec) {
    cmd.add_option("--output", raw.output, "Write NDJSON records (leak, exec) to this file; stdout stays the command's");
    cmd.add_option("--junit", raw.junit, "Write a JUnit XML report to this file (one test case per leak)");
    cmd.add_option("--leak-exit-code", raw.leak_exit_code,
                   "Exit status when the command succeeded but leaked sockets")
        ->capture_default_str();
  } else if (flags != Flags::kExplain) {
    cmd.add_option("--pid", raw.pids, "Only report these process IDs (repeatable)");
    cmd.add_option("--comm", raw.comms, "Only report processes with this name (repeatable)");
    cmd.add_option("--min-count", raw.min_count,
                   "Only report a (process, state) with at least this many lingering sockets")
        ->capture_default_str();
    cmd.add_option("--format", raw.format, "Output format: json (NDJSON) or text")
        ->check(CLI::IsMember({"json", "text"}))
        ->capture_default_str();
    cmd.add_option("--output", raw.output, "Append records to this file instead of stdout (reopened on SIGHUP)");
  }
  cmd.add_option("--config", raw.config, "JSON file with the long flag names as keys; flags override it");
  cmd.add_flag("-v,--verbose", raw.verbose,
               "Log libbpf details, and each reconcile, scan and report with its wall and CPU time, to stderr");
  cmd.add_option("--ring-buffer-kib", raw.ring_buffer_kib,
                 "Kernel event ring buffer size in KiB (power of two, 4..1048576); losses are counted")
      ->capture_default_str();
  cmd.add_option("--max-sockets", raw.max_sockets,
                 "Kernel socket map capacity (64..4194304); sockets beyond it are found by reconciles only")
      ->capture_default_str();
  if (exec) {
    cmd.add_option("--call-sites", raw.call_sites,
                   "Capture the user stack at connect() in the command's processes (only there) and name the "
                   "functions that opened leaked sockets: 0 off, 1 every socket, N one in N")
        ->capture_default_str();
  } else if (streaming) {
    cmd.add_option("--call-sites", raw.call_sites,
                   "Capture the user stack at connect() (accepted sockets: at their first read) and report "
                   "the top call sites of lingering sockets: 0 off, 1 every socket, N one socket in N (costs "
                   "~1-2us per captured socket; with one --pid only that process)")
        ->capture_default_str();
  } else {
    // Refused with the reason rather than "unknown option".
    cmd.add_option("--call-sites", raw.call_sites, "Not here: call sites exist only for sockets created while `run` "
                                                   "watches (use sockleak run --call-sites N)");
  }
  cmd.add_flag("--no-syscall-hooks", raw.no_syscall_hooks,
               "Never attach the close() hook (it runs only while a lingering socket is shared by two "
               "processes, ~25ns per syscall host-wide); holder changes of shared lingering sockets "
               "are then seen at the next reconcile");
  cmd.add_option("--shared-holders", raw.shared_holders,
                 "How holders of a lingering socket that two processes share are kept right (a close() by "
                 "one changes the report without a state change): reread = their fd tables are re-read "
                 "before each report (Linux 6.1+; elsewhere hook, and for 30 intervals after three in a row took "
                 "over 1% of the interval and 20 ms); hook = close() is watched host-wide while one is shared")
      ->check(CLI::IsMember({"reread", "hook"}))
      ->capture_default_str();
  add_kernel(cmd, raw);
  if (!streaming) return;
  cmd.add_option("--interval", raw.interval, "Report every this long")->capture_default_str();
  cmd.add_option("--reconcile-interval", raw.reconcile_interval,
                 "Re-read every process's fd table this often (fixes missed events; also at least once per "
                 "--established-idle, which is how idle ESTABLISHED sockets are found)")
      ->capture_default_str();
  if (exec) return;
  cmd.add_option("--duration", raw.duration, "Stop after this long (default: until SIGINT/SIGTERM)");
  cmd.add_option("--metrics-addr", raw.metrics_addr,
                 "Serve Prometheus metrics on HOST:PORT (/metrics); a bare PORT binds 127.0.0.1");
  cmd.add_option("--metrics-top-n", raw.metrics_top_n,
                 "Per-process metric series only for this many top offenders")
      ->capture_default_str();
  cmd.add_option("--alert-close-wait-count", raw.alert_close_wait_count,
                 "Alert when a process holds this many lingering CLOSE_WAIT sockets (0 = off)")
      ->capture_default_str();
  cmd.add_option("--alert-fd-ratio", raw.alert_fd_ratio,
                 "Alert when a process's open fds reach this fraction of RLIMIT_NOFILE")
      ->capture_default_str();
  cmd.add_option("--alert-emfile-within", raw.alert_emfile_within,
                 "Alert when a process is projected to run out of fds within this long")
      ->capture_default_str();
  cmd.add_option("--alert-resolve-after", raw.alert_resolve_after,
                 "Resolve an alert after this many consecutive reports below its rule")
      ->capture_default_str();
  cmd.add_option("--alertmanager-url", raw.alertmanager_urls,
                 "Push alerts to this Alertmanager (http://HOST:PORT, v2 API; repeatable): firing ones re-sent "
                 "every minute, resolved ones with their end; retried with backoff, never blocking reports");
}

[[noreturn]] void usage(const std::string& message) { throw Error(message, kExitUsage); }

Nanos duration_option(const std::string& flag, const std::string& text) {
  try {
    return parse_duration(text);
  } catch (const Error& e) {
    usage(flag + ": " + e.what());
  }
}

int64_t bounded(const std::string& flag, int64_t value, int64_t low, int64_t high) {
  if (value < low || value > high) {
    usage(flag + ": must be between " + std::to_string(low) + " and " + std::to_string(high));
  }
  return value;
}

// Values from the config file go through the same option objects (and validators) as flags.
// One file serves both commands: keys only `run` knows are skipped by `snapshot`.
void apply_config(CLI::App& cmd, const CLI::App& run, const std::string& path) {
  std::ifstream in(path);
  if (!in) usage("--config " + path + ": cannot open");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    usage("--config " + path + ": invalid JSON: " + e.what());
  }
  if (!doc.is_object()) usage("--config " + path + ": must be a JSON object of flag names to values");
  for (const auto& [key, value] : doc.items()) {
    const std::string where = "--config " + path + ": key \"" + key + "\"";
    const bool reserved = key == "config" || key == "help";
    // A shared file's call-sites key is for `run`; one-shot commands refuse only the flag.
    if (key == "call-sites" && &cmd != &run) continue;
    CLI::Option* opt = reserved ? nullptr : cmd.get_option_no_throw("--" + key);
    if (!opt && !reserved && &cmd != &run && run.get_option_no_throw("--" + key)) continue;
    if (!opt) usage(where + ": unknown key (use the long flag names, e.g. \"close-wait\")");
    if (opt->count() > 0) continue;  // the command line wins
    std::vector<std::string> results;
    auto text = [&](const nlohmann::json& v) -> std::string {
      if (v.is_string()) return v.get<std::string>();
      if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
      if (v.is_number()) return v.dump();
      usage(where + ": expected a string, number or boolean, got " + std::string(v.type_name()));
    };
    if (value.is_array()) {
      for (const auto& element : value) results.push_back(text(element));
    } else {
      results.push_back(text(value));
    }
    try {
      for (const std::string& r : results) opt->add_result(r);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      usage(where + ": " + e.what());
    }
  }
}

Options to_options(const RawOptions& raw, Command command) {
  Options o;
  o.command = command;
  o.thresholds.close_wait = duration_option("--close-wait", raw.close_wait);
  o.thresholds.established_idle = command == Command::kExec && raw.established_idle == "off"
                                      ? kThresholdOff
                                      : duration_option("--established-idle", raw.established_idle);
  o.interval = duration_option("--interval", raw.interval);
  o.reconcile_interval = duration_option("--reconcile-interval", raw.reconcile_interval);
  if (!raw.duration.empty()) o.duration = duration_option("--duration", raw.duration);
  if (o.interval < std::chrono::milliseconds(100)) usage("--interval: must be at least 100ms");
  if (o.reconcile_interval < o.interval) usage("--reconcile-interval: must not be shorter than --interval");
  o.filter.min_count = static_cast<uint32_t>(bounded("--min-count", raw.min_count, 1, 1'000'000'000));
  o.filter.pids.insert(raw.pids.begin(), raw.pids.end());
  o.filter.comms.insert(raw.comms.begin(), raw.comms.end());
  o.format = raw.format == "text" ? Format::kText : Format::kJson;
  o.verbose = raw.verbose;
  const int64_t kib = raw.ring_buffer_kib;
  if (kib < 4 || kib > 1048576 || (kib & (kib - 1)) != 0) {
    usage("--ring-buffer-kib: must be a power of two between 4 and 1048576");
  }
  o.ring_buffer_kib = static_cast<uint32_t>(kib);
  o.max_sockets = static_cast<uint32_t>(bounded("--max-sockets", raw.max_sockets, 64, 4194304));
  o.syscall_hooks = !raw.no_syscall_hooks;
  o.reread_shared = raw.shared_holders == "reread";
  o.call_sites = static_cast<uint32_t>(bounded("--call-sites", raw.call_sites, 0, 1'000'000));
  o.btf_path = raw.btf;
  for (const std::string& name : raw.disabled_features) o.disabled_features.insert(*feature_named(name));
  if (!raw.metrics_addr.empty()) o.metrics_addr = parse_listen_address(raw.metrics_addr);
  o.metrics_top_n = static_cast<size_t>(bounded("--metrics-top-n", raw.metrics_top_n, 1, 1000));
  o.alert_rules.close_wait_count =
      static_cast<uint32_t>(bounded("--alert-close-wait-count", raw.alert_close_wait_count, 0, 1'000'000'000));
  if (!(raw.alert_fd_ratio > 0 && raw.alert_fd_ratio <= 1)) usage("--alert-fd-ratio: must be in (0, 1]");
  o.alert_rules.fd_ratio = raw.alert_fd_ratio;
  o.alert_rules.emfile_within = duration_option("--alert-emfile-within", raw.alert_emfile_within);
  o.alert_rules.resolve_after =
      static_cast<uint32_t>(bounded("--alert-resolve-after", raw.alert_resolve_after, 1, 1000));
  for (const std::string& url : raw.alertmanager_urls) {
    o.alertmanager_urls.push_back(parse_http_url("--alertmanager-url", url));
  }
  if (!raw.output.empty()) o.output_path = raw.output;
  if (!raw.config.empty()) o.config_path = raw.config;
  o.explain_pid = raw.explain_pid;
  o.explain_sample = duration_option("--sample", raw.explain_sample);
  if (o.explain_sample > std::chrono::minutes(10)) usage("--sample: at most 10m");
  o.exec_argv = raw.exec_argv;
  if (!raw.junit.empty()) o.junit_path = raw.junit;
  o.leak_exit_code = static_cast<int>(bounded("--leak-exit-code", raw.leak_exit_code, 1, 255));
  return o;
}

}  // namespace

ListenAddress parse_listen_address(const std::string& text) {
  const std::string flag = "--metrics-addr " + text;
  ListenAddress addr;
  std::string port = text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      usage(flag + ": expected [IPV6]:PORT");
    }
    addr.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (addr.host.empty()) usage(flag + ": empty IPv6 host");
  } else if (const size_t colon = text.rfind(':'); colon != std::string::npos) {
    const std::string host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find_first_of(":[]") != std::string::npos) usage(flag + ": write IPv6 hosts as [addr]:port");
    if (!host.empty()) addr.host = host;
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    usage(flag + ": expected HOST:PORT or PORT");
  }
  const int value = std::stoi(port);
  if (value < 1 || value > 65535) usage(flag + ": port must be 1..65535");
  addr.port = static_cast<uint16_t>(value);
  return addr;
}

HttpUrl parse_http_url(const std::string& flag, const std::string& text) {
  const std::string where = flag + " " + text;
  HttpUrl url;
  url.text = text;
  std::string rest = text;
  if (rest.rfind("https://", 0) == 0) {
    usage(where + ": https is not supported; use http:// (a local TLS proxy can forward)");
  }
  if (rest.rfind("http://", 0) != 0) usage(where + ": expected http://HOST[:PORT][/PATH]");
  rest = rest.substr(7);
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  url.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!url.path.empty() && url.path.back() == '/') url.path.pop_back();
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) usage(where + ": unclosed [ in the host");
    url.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') usage(where + ": expected [IPV6]:PORT");
      port = authority.substr(close + 2);
    }
  } else if (const size_t colon = authority.find(':'); colon != std::string::npos) {
    url.host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  } else {
    url.host = authority;
  }
  if (url.host.empty() || url.host.find_first_of("@?#") != std::string::npos) usage(where + ": no host");
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) usage(where + ": bad port");
    const int value = std::stoi(port);
    if (value < 1 || value > 65535) usage(where + ": port must be 1..65535");
    url.port = static_cast<uint16_t>(value);
  }
  return url;
}

ParseOutcome parse_options(int argc, const char* const* argv) {
  CLI::App app{"sockleak: find socket leaks (CLOSE_WAIT and idle ESTABLISHED TCP sockets) per process",
               "sockleak"};
  app.set_version_flag("--version", "sockleak " SOCKLEAK_VERSION);
  app.footer(kFooter);
  app.require_subcommand(1);
  RawOptions run_raw;
  RawOptions snap_raw;
  RawOptions explain_raw;
  RawOptions features_raw;
  CLI::App* run = app.add_subcommand("run", "Monitor continuously; NDJSON records to stdout");
  CLI::App* snapshot = app.add_subcommand("snapshot", "Report once from the kernel's current state");
  CLI::App* explain = app.add_subcommand(
      "explain", "One page about one process: lingering sockets by peer and cause, fd headroom, what to fix");
  add_common(*run, run_raw, Flags::kRun);
  add_common(*snapshot, snap_raw, Flags::kSnapshot);
  add_common(*explain, explain_raw, Flags::kExplain);
  CLI::App* features = app.add_subcommand(
      "features", "What this kernel offers, which path sockleak takes for each need, and what it costs; "
                  "exit 0 when sockleak can run here, 77 when not");
  add_kernel(*features, features_raw);
  features->add_option("--format", features_raw.format, "Output format: text or json")
      ->check(CLI::IsMember({"json", "text"}));
  features_raw.format = "text";
  features->add_flag("-v,--verbose", features_raw.verbose, "Print the verifier's log of failed probes");
  features->footer(kFooter);
  explain->add_option("pid", explain_raw.explain_pid, "Process ID to explain")->required()->check(CLI::Range(1u, 4194304u));
  explain->add_option("--sample", explain_raw.explain_sample, "Watch this long to measure growth (0s: one look)")
      ->capture_default_str();
  RawOptions exec_raw;
  exec_raw.close_wait = "1s";
  exec_raw.established_idle = "off";
  exec_raw.interval = "1s";
  exec_raw.call_sites = 1;
  CLI::App* exec = app.add_subcommand(
      "exec", "Run COMMAND and report sockets it and every process it starts leaked (CI); exit with its "
              "status, or --leak-exit-code when it succeeded but leaked");
  add_common(*exec, exec_raw, Flags::kExec);
  exec->add_option("command", exec_raw.exec_argv, "The command and its arguments, after --")->required();
  exec->footer(R"(Usage: sockleak exec [options] -- COMMAND [ARGS...]
Reports, for COMMAND's process tree only, CLOSE_WAIT sockets older than --close-wait while it
ran and CLOSE_WAIT sockets a process never closed (closed only by its exit), with their peer,
cause and call site. A summary goes to stderr; stdin, stdout, stderr and signals stay the
command's. Exit status: the command's when it failed (killed by a signal: the same signal),
else --leak-exit-code (66) when a leak was found, else 0; 2 usage, 77 privileges.
Example: sockleak exec --output leaks.ndjson --junit leaks.xml -- go test ./...)");
  run->footer(kFooter);
  snapshot->footer(kFooter);
  explain->footer(kFooter);

  std::ostringstream out;
  std::ostringstream err;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    if (code == 0) return {std::nullopt, kExitOk, out.str()};
    return {std::nullopt, kExitUsage, "sockleak: " + std::string(e.what()) + "\nRun 'sockleak --help' for usage.\n"};
  }
  const Command command = run->parsed()        ? Command::kRun
                          : snapshot->parsed()   ? Command::kSnapshot
                          : features->parsed()   ? Command::kFeatures
                          : exec->parsed()       ? Command::kExec
                                                 : Command::kExplain;
  CLI::App& cmd = command == Command::kRun        ? *run
                  : command == Command::kSnapshot ? *snapshot
                  : command == Command::kFeatures ? *features
                  : command == Command::kExec     ? *exec
                                                  : *explain;
  RawOptions& raw = command == Command::kRun        ? run_raw
                    : command == Command::kSnapshot ? snap_raw
                    : command == Command::kFeatures ? features_raw
                    : command == Command::kExec     ? exec_raw
                                                    : explain_raw;
  try {
    if (!raw.config.empty()) apply_config(cmd, *run, raw.config);
    if (command != Command::kRun && command != Command::kExec && raw.call_sites != 0) {
      usage("--call-sites: only sockets created while sockleak runs have call sites, and a one-shot command "
            "sees only sockets that already exist; use `sockleak run --call-sites N`");
    }
    Options options = to_options(raw, command);
    if (command == Command::kExplain) options.filter.pids = {options.explain_pid};
    return {options, kExitOk, ""};
  } catch (const Error& e) {
    return {std::nullopt, e.exit_code(), "sockleak: " + std::string(e.what()) + "\n"};
  }
}

}  // namespace sockleak
