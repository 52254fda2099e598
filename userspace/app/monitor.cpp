#include "app/monitor.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "core/error.h"
#include "core/event_decoder.h"
#include "core/socket_table.h"
#include "kernel/bpf_monitor.h"
#include "kernel/privileges.h"
#include "kernel/proc_reader.h"
#include "output/record_writer.h"

namespace sockleak {
namespace {

std::atomic<bool> g_stop{false};

void request_stop(int) { g_stop.store(true); }

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = request_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed stdout shows up as EPIPE from fwrite, handled by RecordWriter.
  signal(SIGPIPE, SIG_IGN);
}

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

std::string hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

// One monitoring session: the kernel object, the aggregator and the output.
class Session {
 public:
  explicit Session(const Options& options)
      : options_(options),
        bpf_(options.verbose, options.ring_buffer_kib * 1024u),
        writer_(options.format, stdout), host_(hostname()) {
    bpf_.set_scan_thresholds(options.thresholds);
    started_ns_ = monotonic_ns();
    // Seed sockets that existed before we started, so the first scan sees them.
    reconcile();
  }

  // Scans, reconciles when holder facts are uncertain or due, and writes the report.
  // Returns the rows written (after filters), or nullopt when the output is closed.
  std::optional<size_t> report(bool reconcile_due) {
    const KernelCounters counters = bpf_.counters();
    table_.apply_scan(bpf_.scan_lingering(), monotonic_ns());
    const bool lost_events = counters.events_lost > lost_at_reconcile_;
    if (reconcile_due || lost_events ||
        table_.needs_reconcile([this](const ProcessKey& k) { return procs_.alive(k); })) {
      reconcile();
    }
    const LingerReport report = table_.report(options_.thresholds, monotonic_ns());
    totals_ = report.totals;
    std::vector<ReportRow> rows;
    for (const LingerGroup& group : report.groups) {
      ReportRow row{group, procs_.details(group.process, group.name)};
      row.group.name = row.process.name;
      if (options_.filter.accepts(row.group)) rows.push_back(std::move(row));
    }
    if (!writer_.write_report(rows, totals_, context())) return std::nullopt;
    return rows.size();
  }

  void drain_events(std::chrono::milliseconds wait) {
    bpf_.poll_events(wait, [this](std::span<const std::byte> bytes) {
      if (auto event = decode_event(bytes)) {
        table_.apply(*event);
      } else {
        ++malformed_;
      }
    });
  }

  bool write_stats(bool final) {
    const KernelCounters k = bpf_.counters();
    StatsSnapshot s;
    s.events_received = table_.counters().events;
    s.events_lost = k.events_lost;
    s.events_malformed = malformed_;
    s.sockets_tracked = bpf_.tracked_sockets();
    s.sockets_untracked = k.sockets_full;
    s.sockets_stale = k.stale_entries;
    s.rows_lost = k.rows_lost;
    s.reconciles = table_.counters().reconciles;
    s.reconcile_corrections = table_.counters().reconcile_corrections;
    s.lingering = totals_;
    s.uptime_seconds = static_cast<double>(monotonic_ns() - started_ns_) / 1e9;
    s.final = final;
    return writer_.write_stats(s, context());
  }

  uint64_t started_ns() const { return started_ns_; }

 private:
  void reconcile() {
    lost_at_reconcile_ = bpf_.counters().events_lost;
    table_.apply_reconcile(bpf_.read_holders());
  }

  RecordContext context() const {
    return {rfc3339(std::chrono::system_clock::now()), host_, options_.thresholds};
  }

  const Options& options_;
  BpfMonitor bpf_;
  SocketTable table_;
  ProcReader procs_;
  RecordWriter writer_;
  std::string host_;
  HostTotals totals_;
  uint64_t started_ns_ = 0;
  uint64_t lost_at_reconcile_ = 0;
  uint64_t malformed_ = 0;
};

void warn(const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) std::fprintf(stderr, "sockleak: warning: %s\n", w.c_str());
}

}  // namespace

int run_monitor(const Options& options) {
  warn(check_privileges());
  install_signal_handlers();
  Session session(options);
  if (!session.write_stats(false)) return kExitOk;

  const uint64_t interval = static_cast<uint64_t>(options.interval.count());
  const uint64_t reconcile_every = static_cast<uint64_t>(options.reconcile_interval.count());
  const uint64_t deadline =
      options.duration ? session.started_ns() + static_cast<uint64_t>(options.duration->count()) : UINT64_MAX;
  uint64_t next_report = session.started_ns() + interval;
  uint64_t next_reconcile = session.started_ns() + reconcile_every;

  while (!g_stop.load()) {
    session.drain_events(std::chrono::milliseconds(100));
    const uint64_t now = monotonic_ns();
    if (now >= deadline) break;
    if (now < next_report) continue;
    next_report = std::max(next_report + interval, now + interval / 2);
    const bool reconcile_due = now >= next_reconcile;
    if (reconcile_due) next_reconcile = now + reconcile_every;
    if (!session.report(reconcile_due) || !session.write_stats(false)) return kExitOk;
  }
  session.drain_events(std::chrono::milliseconds(0));
  session.write_stats(true);
  return kExitOk;
}

int run_snapshot(const Options& options) {
  warn(check_privileges());
  signal(SIGPIPE, SIG_IGN);
  Session session(options);
  const auto rows = session.report(false);
  if (!rows) return kExitOk;
  return *rows > 0 ? kExitLingering : kExitOk;
}

}  // namespace sockleak
