// Command line and config file: `sockleak run|snapshot [options]`, parsed with CLI11.
// A JSON --config file uses the long flag names as keys; flags given on the command
// line override it. Re-parsing the same argv re-reads the file (SIGHUP reload).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/alert_engine.h"
#include "core/duration.h"
#include "core/kernel_features.h"
#include "core/socket_table.h"

namespace sockleak {

enum class Command { kRun, kSnapshot, kExplain, kFeatures, kExec };
enum class Format { kJson, kText };

struct ListenAddress {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
};

// An http:// endpoint: where alerts are POSTed.
struct HttpUrl {
  std::string host;  // name or address ([...] stripped for IPv6)
  uint16_t port = 80;
  std::string path;  // prefix without a trailing slash, e.g. "" or "/alertmanager"
  std::string text;  // as given, for messages
};

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
  uint32_t max_sockets = 262144;    // kernel socket map capacity
  bool syscall_hooks = true;        // the close() hook on sys_enter
  bool reread_shared = true;        // --shared-holders reread: re-read sharers' fd tables, not the hook
  uint32_t call_sites = 0;          // capture connect/first-read stacks: 0 off, 1 all, N one in N
  std::string btf_path;             // --btf: kernel types from this file instead of /sys/kernel/btf/vmlinux
  std::set<Feature> disabled_features;  // --disable-feature: take the fallback even where offered
  std::optional<ListenAddress> metrics_addr;
  size_t metrics_top_n = 20;
  AlertRules alert_rules;
  std::vector<HttpUrl> alertmanager_urls;  // run: push alerts to these Alertmanagers (v2 API)
  std::optional<std::string> output_path;  // default stdout
  std::optional<std::string> config_path;
  uint32_t explain_pid = 0;                  // explain: the process
  Nanos explain_sample = std::chrono::seconds(3);  // explain: watch this long for growth
  std::vector<std::string> exec_argv;        // exec: the command and its arguments
  std::optional<std::string> junit_path;     // exec: JUnit XML report
  int leak_exit_code = 66;                   // exec: status when the command succeeded but leaked
};

// Commands that watch over time (the map keeps sockets, closes are followed).
inline bool watches(Command c) { return c == Command::kRun || c == Command::kExec; }

// `exec --established-idle off`: a threshold no socket reaches (ten years).
inline constexpr Nanos kThresholdOff = std::chrono::hours(24 * 365 * 10);

// Either options to run with, or a finished answer (--help, --version, usage error)
// with its text and exit code.
struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;
  std::string output;  // for stdout when exit_code is 0, stderr otherwise
};

ParseOutcome parse_options(int argc, const char* const* argv);

// "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT" (host defaults to 127.0.0.1).
// Throws Error(kExitUsage).
ListenAddress parse_listen_address(const std::string& text);

// "http://HOST[:PORT][/PATH]" ([V6] hosts). Throws Error(kExitUsage), https included.
HttpUrl parse_http_url(const std::string& flag, const std::string& text);

}  // namespace sockleak
