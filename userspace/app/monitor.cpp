#include "app/monitor.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "app/session.h"
#include "output/explain_page.h"
#include "core/error.h"
#include "kernel/privileges.h"

namespace sockleak {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

void request_stop(int) { g_stop.store(true); }
void request_reload(int) { g_reload.store(true); }

void install_signal_handlers() {
  struct sigaction sa {};
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = request_stop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = request_reload;
  sigaction(SIGHUP, &sa, nullptr);
  // A closed stdout shows up as EPIPE from fwrite, handled by OutputSink.
  signal(SIGPIPE, SIG_IGN);
}

void warn(const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) std::fprintf(stderr, "sockleak: warning: %s\n", w.c_str());
}

// SIGHUP: re-parse argv (re-reading --config). A bad config keeps the running one.
void reload(Session& session, int argc, const char* const* argv) {
  ParseOutcome parsed = parse_options(argc, argv);
  if (!parsed.options) {
    std::fprintf(stderr, "sockleak: SIGHUP: keeping the running configuration: %s", parsed.output.c_str());
    return;
  }
  session.reload(std::move(*parsed.options));
  std::fprintf(stderr, "sockleak: SIGHUP: configuration reloaded, output reopened\n");
}

}  // namespace

int run_monitor(const Options& options, int argc, const char* const* argv) {
  warn(check_privileges(options.call_sites > 0));
  install_signal_handlers();
  Session session(options);
  if (!session.write_stats(false)) return kExitOk;

  const uint64_t deadline =
      options.duration ? session.started_ns() + static_cast<uint64_t>(options.duration->count()) : UINT64_MAX;
  while (!g_stop.load()) {
    session.drain_events(std::chrono::milliseconds(100));
    if (g_reload.exchange(false)) reload(session, argc, argv);
    const uint64_t now = monotonic_ns();
    if (now >= deadline) break;
    const std::optional<bool> reconcile_due = session.report_due(now);
    if (!reconcile_due) continue;
    if (!session.report(*reconcile_due) || !session.write_stats(false)) return kExitOk;
  }
  session.drain_events(std::chrono::milliseconds(0));
  session.write_stats(true);
  return kExitOk;
}

int run_explain(const Options& options) {
  warn(check_privileges(options.call_sites > 0));
  signal(SIGPIPE, SIG_IGN);
  Session session(options);
  const auto key = session.procs().key_of(options.explain_pid);
  if (!key) throw Error("explain: no process " + std::to_string(options.explain_pid), kExitUsage);
  std::vector<ReportRow> rows = session.collect(true);
  if (options.explain_sample.count() > 0) {
    std::this_thread::sleep_for(options.explain_sample);
    rows = session.collect(true);
  }
  const ProcessDetails details = session.procs().details(*key, "");
  const std::string page = explain_page(options.explain_pid, details, rows, options.thresholds,
                                        format_duration(options.explain_sample));
  std::fputs(page.c_str(), stdout);
  return rows.empty() ? kExitOk : kExitLingering;
}

int run_snapshot(const Options& options) {
  warn(check_privileges(options.call_sites > 0));
  signal(SIGPIPE, SIG_IGN);
  Session session(options);
  const auto rows = session.report(false);
  if (!rows) return kExitOk;
  return *rows > 0 ? kExitLingering : kExitOk;
}

}  // namespace sockleak
