// Session: one monitoring session — the BPF object, the aggregator, trends, alerts and
// outputs — driven by app/monitor.cpp's loops.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>

#include "app/options.h"
#include "core/duration.h"
#include "core/alert_engine.h"
#include "core/socket_table.h"
#include "core/trend.h"
#include "kernel/bpf_monitor.h"
#include "kernel/proc_reader.h"
#include "kernel/symbolizer.h"
#include "output/alert_pusher.h"
#include "output/metrics_server.h"
#include "output/output_sink.h"
#include "output/record_writer.h"

namespace sockleak {

class Session {
 public:
  explicit Session(Options options);

  // Scans, reconciles when holder facts are uncertain or due, writes linger records,
  // alerts (run) and metrics. Returns the linger rows written after filters, or
  // nullopt when the output is closed.
  std::optional<size_t> report(bool reconcile_due);
  // The same scan, reconcile and rows (with forecasts), without writing anything.
  std::vector<ReportRow> collect(bool reconcile_due);
  ProcReader& procs() { return procs_; }
  void drain_events(std::chrono::milliseconds wait);
  bool write_stats(bool final);
  // `exec`: CLOSE_WAIT sockets closed by a watched process's exit, since the last call.
  std::vector<sl_exit_close> take_exit_closes() { return std::exchange(exit_closes_, {}); }
  // A group not from a report (exec's sockets closed by exit): /proc details when the
  // process lives, its call sites named, its hint.
  ReportRow row_for(const LingerGroup& group);
  BpfMonitor& bpf() { return bpf_; }
  // Timestamp (now), host name and thresholds for records.
  RecordContext context() const;
  // New thresholds, filters, rules and output path from a re-parsed command line.
  void reload(Options next);

  // How often a reconcile must run. ESTABLISHED sockets enter the kernel map only through
  // reconciles, so one runs at least once per --established-idle: a socket idle that long
  // has then been seen by one and is scanned as soon as it crosses the threshold.
  std::chrono::nanoseconds reconcile_period() const;
  // How often a reported idle ESTABLISHED socket is read again: its idle time, at most
  // 10 s old, and never more often than reports.
  Nanos recheck_period() const;
  uint64_t started_ns() const { return started_ns_; }
  // The report schedule of the watching loops (`run`, `exec`): a report every --interval
  // (a late one puts the next at least half an interval after it), a periodic reconcile
  // every reconcile_period(). nullopt while no report is due; else whether the report due
  // now includes the periodic reconcile (pass it to report() or collect()).
  std::optional<bool> report_due(uint64_t now_ns);
  uint64_t next_report_ns() const { return next_report_ns_; }
  const Options& options() const { return options_; }

 private:
  // kNew with wanted: the holders of those sockets only (a walk that passes over the
  // others unread), if the kernel can; else of every socket new to the map.
  void reconcile(SocketTable::Reconcile kind, std::span<const uint64_t> wanted = {});
  // After a scan: a reconcile when lingering sockets' holders are unread or may be wrong.
  void reconcile_after_scan(const KernelCounters& counters);
  // fd closes of reported sockets, checked against the processes' fd tables: a holder that
  // closed one fd may hold the socket through another.
  void check_closed_holders();
  // Attaches close tracking while a reported socket is held by two processes (a close by
  // one changes the report without a state change), detaches it otherwise: it costs every
  // syscall on the host.
  void watch_closes(bool needed);
  // Whether the holders of shared lingering sockets are kept right by re-reading their
  // holders' fd tables before each report (--shared-holders reread, Linux 6.1+, while
  // that stays within its budget) rather than by the close hook.
  bool rereads_shared() const;
  // That re-reading: each holder of each shared lingering socket confirmed or dropped by
  // its fd table. After three in a row over 1% of the interval (and 20 ms), or one
  // refused, the hook takes over for 30 intervals, or until no lingering socket is shared.
  void reread_shared_holders();
  StatsSnapshot stats(bool final) const;
  std::vector<ReportRow> rows_for(const LingerReport& report, uint64_t now_ns);
  // A row's hint and named call sites (the last step of rows_for and row_for).
  void name_row(ReportRow& row);
  std::vector<std::string> call_site_frames(const LingerGroup::CallSiteCount& site, const ProcessKey& holder);
  // `exec`: a new call site of a watched process, named now while the process runs (a test
  // binary may exit, and be deleted, long before its sockets are reported).
  void name_call_site(const sl_event& event);
  LingerReport last_report_;
  void raise_alerts(const std::vector<ReportRow>& rows);
  // Hands the alerts firing now and those just resolved to the Alertmanager pusher.
  void push_alerts(const std::vector<std::pair<AlertTransition, ProcessDetails>>& transitions,
                   const std::map<ProcessKey, ProcessDetails>& details);
  void publish_metrics(const LingerReport& report, const std::vector<ReportRow>& rows);

  Options options_;
  BpfMonitor bpf_;
  SocketTable table_;
  ProcReader procs_;
  Symbolizer symbols_;
  TrendTracker trends_;
  AlertEngine alerts_;
  OutputSink sink_;
  RecordWriter writer_;
  std::unique_ptr<MetricsServer> metrics_;
  std::unique_ptr<AlertPusher> pusher_;  // --alertmanager-url
  // Symbolized call sites by (stack id, executable), until the stack is collected.
  std::map<std::pair<uint32_t, ExeId>, std::vector<std::string>> call_site_frames_;
  // `exec`: call sites named when captured, by (stack id, capturing process); kept for the
  // whole run (a run has few).
  std::map<std::pair<uint32_t, ProcessKey>, std::vector<std::string>> named_call_sites_;
  std::vector<sl_exit_close> exit_closes_;
  // Live processes and their executables, read when a report first needs them.
  std::optional<std::map<ProcessKey, ExeId>> running_;
  std::string host_;
  HostTotals totals_;
  uint64_t started_ns_ = 0;
  uint64_t next_report_ns_ = 0;
  uint64_t next_periodic_reconcile_ns_ = 0;
  uint64_t lost_at_reconcile_ = 0;
  uint64_t holder_forks_seen_ = 0;  // SL_CNT_HOLDER_FORKS at the last report
  uint64_t reread_retry_ns_ = 0;    // after re-readings of shared holders that cost too much (or one failed)
  uint32_t reread_slow_ = 0;        // re-readings in a row over their budget
  uint64_t holder_rereads_ = 0;     // re-readings of shared holders' fd tables so far
  uint64_t established_at_reconcile_ = UINT64_MAX;  // SL_CNT_ESTABLISHED when the last walk began
  uint64_t full_at_walk_ = 0;  // KernelCounters::sockets_full at the last walk of every new socket
  std::vector<uint64_t> new_marks_;  // NewSockets::marks() when that walk began
  uint64_t next_full_reconcile_ns_ = 0;  // holders of known sockets re-read then
  // Scans report changes; every reconcile interval, after lost events and after new
  // thresholds one reads every lingering socket (a state event lost, or racing the scan
  // that reported its socket, cannot leave a socket reported for longer).
  // Periodic full scans heal only what a state event racing a scan left behind (lost
  // events and new thresholds take one at once): every few reconcile intervals.
  static constexpr uint64_t kFullScanEvery = 4;
  bool full_scan_due_ = true;
  uint64_t next_full_scan_ns_ = 0;
  uint64_t lost_at_full_scan_ = 0;
  uint64_t malformed_ = 0;
  bool output_closed_ = false;
};

}  // namespace sockleak
