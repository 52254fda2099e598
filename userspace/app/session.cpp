#include "app/session.h"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "core/error.h"
#include "core/event_decoder.h"
#include "core/alertmanager_payload.h"
#include "core/hints.h"
#include "kernel/kernel_probe.h"
#include "core/metrics_text.h"
#include "kernel/symbolizer.h"

namespace sockleak {
namespace {

std::string hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

// Wall time of one step and, for -v, the thread's CPU time: where a report's time goes (the
// kernel's share includes the BPF programs that ran in this thread's reads of iterators).
class Stopwatch {
 public:
  // with_cpu: read the CPU time too (a getrusage() at each end: only when it is printed).
  explicit Stopwatch(bool with_cpu) : wall_(monotonic_ns()), with_cpu_(with_cpu) {
    if (with_cpu_) usage_ = thread_usage();
  }
  uint64_t started_ns() const { return wall_; }
  std::string elapsed() const {
    const double wall_ms = static_cast<double>(monotonic_ns() - wall_) / 1e6;
    char text[96];
    if (!with_cpu_) {
      std::snprintf(text, sizeof text, "%.1f ms", wall_ms);
      return text;
    }
    const rusage now = thread_usage();
    std::snprintf(text, sizeof text, "%.1f ms (cpu: user %.1f, kernel %.1f ms)", wall_ms,
                  ms_between(usage_.ru_utime, now.ru_utime), ms_between(usage_.ru_stime, now.ru_stime));
    return text;
  }

 private:
  static rusage thread_usage() {
    rusage usage{};
    getrusage(RUSAGE_THREAD, &usage);
    return usage;
  }
  static double ms_between(const timeval& a, const timeval& b) {
    return static_cast<double>(b.tv_sec - a.tv_sec) * 1e3 + static_cast<double>(b.tv_usec - a.tv_usec) / 1e3;
  }
  uint64_t wall_;
  bool with_cpu_;
  rusage usage_{};
};

}  // namespace

// The loader's settings, with the kernel probed once here for the whole session.
static BpfSettings bpf_settings(const Options& options) {
  BpfSettings s;
  s.verbose = options.verbose;
  s.ring_buffer_bytes = options.ring_buffer_kib * 1024u;
  s.max_sockets = options.max_sockets;
  // Syscall hooks serve `run` only: one-shot commands never watch closes.
  s.syscall_hooks = options.syscall_hooks && watches(options.command);
  s.stack_sample = options.call_sites;
  s.stack_tgid = options.filter.pids.size() == 1 ? *options.filter.pids.begin() : 0u;
  s.btf_path = options.btf_path;
  s.features = probe_kernel({options.btf_path, options.disabled_features, options.verbose});
  s.read_only = !watches(options.command);
  s.watch_tree = options.command == Command::kExec;
  // exec's promise is a command within a few percent of its own speed, and it samples every
  // socket: the first-read hook would look up every TCP read on the host.
  s.accept_call_sites = options.command != Command::kExec;
  return s;
}

Session::Session(Options options)
    : options_(std::move(options)),
      bpf_(bpf_settings(options_)),
      sink_(options_.output_path),
      writer_(options_.format, sink_),
      host_(hostname()) {
  if (options_.metrics_addr) metrics_ = std::make_unique<MetricsServer>(*options_.metrics_addr);
  if (options_.command == Command::kRun && !options_.alertmanager_urls.empty()) {
    pusher_ = std::make_unique<AlertPusher>(options_.alertmanager_urls);
  }
  bpf_.set_scan_thresholds(options_.thresholds, recheck_period(), options_.interval);
  table_.set_visible_only(bpf_.pid_namespace_level() > 0);
  table_.set_one_shot(!watches(options_.command));
  started_ns_ = monotonic_ns();
  next_report_ns_ = started_ns_ + static_cast<uint64_t>(options_.interval.count());
  next_periodic_reconcile_ns_ = started_ns_ + static_cast<uint64_t>(reconcile_period().count());
  // Seed sockets that existed before we started, so the first scan sees them.
  reconcile(SocketTable::Reconcile::kAll);
  if (metrics_) publish_metrics(LingerReport{}, {});
}

void Session::reconcile(SocketTable::Reconcile kind, std::span<const uint64_t> wanted) {
  // Events from before the fd tables are read must not be applied on top of them.
  drain_events(std::chrono::milliseconds(0));
  const Stopwatch watch(options_.verbose);
  const uint64_t start = watch.started_ns();
  const bool all = kind == SocketTable::Reconcile::kAll;
  const KernelCounters counters = bpf_.counters();
  // A socket the full map refused since the last walk of everything new is found only by
  // such a walk (it is in no map to ask for), and each such walk replaces the last one's.
  const bool untracked = counters.sockets_full != full_at_walk_ || table_.untracked() > 0;
  if (untracked) wanted = {};
  if (all) {
    lost_at_reconcile_ = counters.events_lost;
    next_full_reconcile_ns_ = start + static_cast<uint64_t>(options_.reconcile_interval.count());
  }
  size_t rows = 0;
  table_.begin_reconcile(start);
  const auto add_rows = [this, &rows](std::span<const sl_sock_row> chunk) {
    rows += chunk.size();
    table_.add_reconcile_rows(chunk);
  };
  const bool only_wanted = !all && !wanted.empty() && bpf_.read_holders_of(wanted, add_rows);
  std::optional<size_t> by_address;  // sockets a walk of new ones visited, if it could name them
  if (!only_wanted) {
    // What this walk adds to the map: a walk of wanted sockets adds no new connection, so
    // the periodic walk of new sockets stays due.
    established_at_reconcile_ = counters.established;
    full_at_walk_ = counters.sockets_full;
    // Every socket new since the last such walk, if the state hook's notes still hold them
    // all: the walk visits those alone (other sockets passed over by their address).
    const NewSockets news = bpf_.new_sockets();
    // Not for one-shot commands (they read held sockets whole: a walk of a few would
    // replace them), nor when wanted sockets could not be asked for (only a walk of every
    // new socket settles them).
    const bool may_name = !all && !untracked && wanted.empty() && watches(options_.command);
    const std::optional<std::vector<uint64_t>> fresh = may_name ? news.since(new_marks_) : std::nullopt;
    new_marks_ = news.marks();
    if (fresh && bpf_.read_new_holders(*fresh, add_rows)) {
      by_address = fresh->size();
    } else {
      bpf_.read_holders(all ? BpfMonitor::Holders::kAll : BpfMonitor::Holders::kNew, add_rows);
    }
  }
  table_.finish_reconcile(all ? SocketTable::HolderRows::kAll : SocketTable::HolderRows::kNew);
  if (options_.call_sites) {
    for (uint32_t id : bpf_.collect_unused_stacks()) {
      auto first = call_site_frames_.lower_bound({id, ExeId{}});
      auto last = call_site_frames_.lower_bound({id + 1, ExeId{}});
      call_site_frames_.erase(first, last);
    }
  }
  if (options_.verbose) {
    const std::string what = all            ? "full"
                             : only_wanted  ? std::to_string(wanted.size()) + "-sockets"
                             : by_address   ? std::to_string(*by_address) + "-new-sockets"
                                            : "new-sockets";
    std::fprintf(stderr, "sockleak: %s reconcile: %zu holder rows in %s\n", what.c_str(), rows, watch.elapsed().c_str());
  }
}

void Session::watch_closes(bool needed) {
  if (needed == bpf_.tracking_closes()) return;
  bpf_.track_closes(needed);
  // Closes went unwatched until now: holders from the last reconcile may be stale.
  if (bpf_.tracking_closes()) table_.request_reconcile();
}

std::optional<bool> Session::report_due(uint64_t now_ns) {
  if (now_ns < next_report_ns_) return std::nullopt;
  const auto interval = static_cast<uint64_t>(options_.interval.count());
  next_report_ns_ = std::max(next_report_ns_ + interval, now_ns + interval / 2);
  const bool reconcile_due = now_ns >= next_periodic_reconcile_ns_;
  if (reconcile_due) next_periodic_reconcile_ns_ = now_ns + static_cast<uint64_t>(reconcile_period().count());
  return reconcile_due;
}

std::chrono::nanoseconds Session::reconcile_period() const {
  return std::min<std::chrono::nanoseconds>(options_.reconcile_interval, options_.thresholds.established_idle);
}

Nanos Session::recheck_period() const {
  const Nanos interval = options_.interval;
  return std::clamp<Nanos>(options_.thresholds.established_idle, interval,
                           std::max<Nanos>(interval, std::chrono::seconds(10)));
}

std::vector<ReportRow> Session::rows_for(const LingerReport& report, uint64_t now_ns) {
  std::vector<ReportRow> rows;
  std::set<ProcessKey> fds_seen;
  std::map<ProcessKey, ProcessDetails> details;  // /proc read once per process, not per state
  std::map<std::pair<ProcessKey, TcpState>, uint32_t> lingering;
  for (const LingerGroup& group : report.groups) {
    auto [known, fresh] = details.try_emplace(group.process);
    if (fresh) known->second = procs_.details(group.process, group.name);
    ReportRow row{group, known->second, {}, {}};
    row.group.name = row.process.name;
    if (!options_.filter.accepts(row.group)) continue;
    lingering[{group.process, group.state}] += group.count;
    if (row.process.fd_open && fds_seen.insert(group.process).second) {
      trends_.observe_fds(group.process, now_ns, *row.process.fd_open);
    }
    rows.push_back(std::move(row));
  }
  // Held and never-accepted sockets of one state are one trend.
  for (const auto& [key, count] : lingering) trends_.observe_lingering(key.first, key.second, now_ns, count);
  trends_.prune(now_ns);
  for (ReportRow& row : rows) {
    row.forecast.leak_rate_per_minute = trends_.leak_rate_per_minute(row.group.process, row.group.state);
    if (row.process.fd_open && row.process.fd_limit) {
      row.forecast.seconds_to_emfile =
          trends_.seconds_to_emfile(row.group.process, *row.process.fd_open, *row.process.fd_limit);
    }
    name_row(row);
  }
  symbols_.clear();  // names are cached per stack; mappings are re-read for new stacks
  running_.reset();
  return rows;
}

void Session::name_call_site(const sl_event& event) {
  const ProcessKey process{event.tgid, event.proc_start};
  if (named_call_sites_.contains({event.stack_id, process})) return;
  // A race with the process's exit: its mappings and files first, checks after.
  std::vector<std::string> frames = symbols_.frames(process, bpf_.stack(event.stack_id));
  // Bare addresses have no " (module)": kept only if the pid was really that process.
  const bool named = std::any_of(frames.begin(), frames.end(), [](const std::string& f) { return f.find(' ') != std::string::npos; });
  if (named || procs_.alive(process)) named_call_sites_.insert_or_assign({event.stack_id, process}, std::move(frames));
}

ReportRow Session::row_for(const LingerGroup& group) {
  ReportRow row{group, procs_.details(group.process, group.name), {}, {}};
  if (row.process.name.empty()) row.process.name = group.name;
  name_row(row);
  return row;
}

void Session::name_row(ReportRow& row) {
  row.forecast.hint = linger_hint(row.group);
  for (const LingerGroup::CallSiteCount& site : row.group.call_sites) {
    row.call_sites.push_back({site.count, call_site_frames(site, row.group.process)});
  }
}

std::vector<std::string> Session::call_site_frames(const LingerGroup::CallSiteCount& site,
                                                   const ProcessKey& holder) {
  const std::pair<uint32_t, ExeId> key{site.stack_id, site.exe};
  if (auto cached = call_site_frames_.find(key); cached != call_site_frames_.end()) return cached->second;
  if (auto named = named_call_sites_.find({site.stack_id, site.captured_in}); named != named_call_sites_.end()) {
    return named->second;
  }
  const std::vector<uint64_t> stack = bpf_.stack(site.stack_id);
  if (!site.exe.known()) return symbols_.frames(ProcessKey{}, stack);  // capture not complete yet
  if (!running_) {  // once per report, and only when a stack needs naming
    running_.emplace();
    for (const sl_capturer& p : bpf_.read_executables()) {
      running_->insert_or_assign(ProcessKey{p.tgid, p.start}, ExeId{p.exe_ino, p.exe_dev, p.layout});
    }
  }
  // Names need the mappings of a process running the executable the stack was captured
  // in: the capturer while it lives and has not exec'd, else the holder (e.g. a fork).
  for (const ProcessKey& process : {site.captured_in, holder}) {
    auto running = running_->find(process);
    if (process.pid == 0 || running == running_->end()) continue;  // exited
    if (running->second != site.exe) continue;
    // Kept until the stack is collected, so the names outlive the process.
    return call_site_frames_.emplace(key, symbols_.frames(process, stack)).first->second;
  }
  return symbols_.frames(ProcessKey{}, stack);  // addresses only; retried at the next report
}

void Session::check_closed_holders() {
  std::map<ProcessKey, std::optional<std::map<uint32_t, uint32_t>>> tables;  // one read per process
  for (const HolderCheck& check : table_.take_holder_checks()) {
    auto [it, fresh] = tables.try_emplace(check.process);
    if (fresh) it->second = procs_.socket_fds(check.process);
    if (!it->second) continue;  // unreadable: the close stands (as before checks existed)
    auto fds = it->second->find(check.inode);
    table_.confirm_holder(check, fds == it->second->end() ? 0 : fds->second);
  }
}

std::vector<ReportRow> Session::collect(bool reconcile_due) {
  check_closed_holders();
  const KernelCounters counters = bpf_.counters();
  // A due reconcile runs first: it adds held ESTABLISHED sockets to the map for this scan.
  // Between full ones (every reconcile interval) it sends only the sockets it adds.
  // ESTABLISHED sockets enter the map by these walks alone, so with no connection
  // established since the last one there is nothing new to find (one-shot commands read
  // every held socket afresh instead: their walks add nothing to the map).
  const bool news = !watches(options_.command) || counters.established != established_at_reconcile_;
  if (counters.holder_forks != holder_forks_seen_) {
    // A process holding reported sockets forked: the child holds them too. Unless the
    // sharers' fd tables are re-read at each report, closes are watched from now, before
    // the reconcile that reads who holds what.
    holder_forks_seen_ = counters.holder_forks;
    if (!rereads_shared()) watch_closes(true);
    table_.request_reconcile();
  }
  if (reconcile_due && monotonic_ns() >= next_full_reconcile_ns_) {
    reconcile(SocketTable::Reconcile::kAll);
  } else if (reconcile_due && news) {
    reconcile(SocketTable::Reconcile::kNew);
  }
  const Stopwatch scan_watch(options_.verbose);
  const uint64_t scan_start = scan_watch.started_ns();
  const bool full = full_scan_due_ || scan_start >= next_full_scan_ns_ || counters.events_lost > lost_at_full_scan_;
  if (full) {
    full_scan_due_ = false;
    next_full_scan_ns_ = scan_start + kFullScanEvery * static_cast<uint64_t>(options_.reconcile_interval.count());
    lost_at_full_scan_ = counters.events_lost;
  }
  size_t changes = 0;
  table_.begin_scan(full ? SocketTable::ScanRows::kAll : SocketTable::ScanRows::kChanges);
  bpf_.scan_lingering(full ? BpfMonitor::Scan::kAll : BpfMonitor::Scan::kChanges,
                      [this, &changes](std::span<const sl_sock_row> chunk) {
                        changes += chunk.size();
                        table_.add_scan_rows(chunk, monotonic_ns());
                      });
  table_.finish_scan();
  if (options_.verbose) {
    std::fprintf(stderr, "sockleak: %s scan: %zu rows, %zu lingering of %llu tracked sockets in %s\n",
                 full ? "full" : "changes", changes, table_.lingering(),
                 static_cast<unsigned long long>(bpf_.tracked_sockets()), scan_watch.elapsed().c_str());
  }
  // One-shot reports read every held socket in their reconcile: nothing is left to ask.
  // Otherwise new lingering sockets whose holders were never read: a reconcile of new
  // sockets sends them; what it cannot settle (a socket nobody holds) takes a full one.
  if (watches(options_.command)) {
    // Sockets two processes hold: their holders' fd tables say who still holds them now
    // (first, so that what they cannot settle is reconciled for this report)...
    if (table_.shared_holders() && rereads_shared()) reread_shared_holders();
    reconcile_after_scan(counters);
    if (!table_.shared_holders()) reread_retry_ns_ = 0;  // the next socket shared is re-read again
    // ...or, first seen now, closes are watched from here on, and what either closed
    // before that is read at once.
    if (table_.shared_holders() && !rereads_shared() && !bpf_.tracking_closes()) {
      watch_closes(true);
      if (bpf_.tracking_closes()) reconcile(SocketTable::Reconcile::kAll);
    }
  }
  if (options_.command == Command::kExec) options_.filter.processes = bpf_.watched();
  const uint64_t now = monotonic_ns();
  last_report_ = table_.report(options_.thresholds, now);
  totals_ = last_report_.totals;
  // close() changes what a report says only of a socket two processes hold (else the last
  // close ends the socket: a state event); forks by holders are counted in the kernel.
  const bool forks_counted = bpf_.set_holder_processes(table_.holding());
  watch_closes((table_.shared_holders() && !rereads_shared()) || !forks_counted);
  return rows_for(last_report_, now);
}

bool Session::rereads_shared() const {
  return options_.reread_shared && monotonic_ns() >= reread_retry_ns_ &&
         bpf_.features().has(Feature::kProcessFileWalk);
}

void Session::reread_shared_holders() {
  const Stopwatch watch(options_.verbose);
  const std::vector<HolderCheck> checks = table_.shared_holder_checks();
  std::set<uint32_t> pids;
  for (const HolderCheck& check : checks) {
    if (check.process.pid != 0) pids.insert(check.process.pid);
  }
  std::map<std::pair<uint64_t, ProcessKey>, uint32_t> fds;  // (socket, process) -> fds holding it
  const bool read = bpf_.read_process_fds(pids, [&fds](std::span<const sl_sock_row> rows) {
    for (const sl_sock_row& row : rows) {
      if ((row.flags & SL_ROW_HOLDER) && !(row.flags & SL_ROW_LISTENER)) {
        ++fds[{row.cookie, ProcessKey{row.tgid, row.proc_start}}];
      }
    }
  });
  const uint64_t back_off = 30 * static_cast<uint64_t>(options_.interval.count());
  if (!read) {
    reread_retry_ns_ = monotonic_ns() + back_off;
    return;
  }
  for (const HolderCheck& check : checks) {
    auto it = fds.find({check.cookie, check.process});
    table_.confirm_holder(check, it == fds.end() ? 0 : it->second);
  }
  ++holder_rereads_;
  // Over budget: 1% of the interval, and at least 20 ms (a re-reading of a few processes
  // takes ~0.2 ms here; an emulated VM or a preempted one may take far longer once). Three
  // in a row hand the job to the hook.
  const uint64_t spent = monotonic_ns() - watch.started_ns();
  const uint64_t budget = std::max<uint64_t>(static_cast<uint64_t>(options_.interval.count()) / 100, 20'000'000);
  reread_slow_ = spent > budget ? reread_slow_ + 1 : 0;
  const bool over = reread_slow_ >= 3;
  if (over) {
    reread_slow_ = 0;
    reread_retry_ns_ = monotonic_ns() + back_off;
  }
  if (options_.verbose) {
    std::fprintf(stderr, "sockleak: shared holders re-read: %zu sockets' holders in %zu processes in %s%s\n",
                 checks.size(), pids.size(), watch.elapsed().c_str(),
                 over ? " (the third in a row over its budget: close() is hooked for 30 intervals)" : "");
  }
}

void Session::reconcile_after_scan(const KernelCounters& counters) {
  const auto alive = [this](const ProcessKey& k) { return procs_.alive(k); };
  SocketTable::Reconcile needed = counters.events_lost > lost_at_reconcile_ ? SocketTable::Reconcile::kAll
                                                                            : table_.reconcile_needed(alive);
  if (needed == SocketTable::Reconcile::kNew) {
    reconcile(needed, table_.unread_holders());
    needed = table_.holders_unread() ? SocketTable::Reconcile::kAll : table_.reconcile_needed(alive);
    if (needed == SocketTable::Reconcile::kNew) needed = SocketTable::Reconcile::kNone;  // untracked: read just now
  }
  if (needed != SocketTable::Reconcile::kNone) reconcile(SocketTable::Reconcile::kAll);
}

std::optional<size_t> Session::report(bool reconcile_due) {
  const Stopwatch watch(options_.verbose);
  const std::vector<ReportRow> rows = collect(reconcile_due);
  if (!writer_.write_report(rows, totals_, context())) return std::nullopt;
  if (options_.command == Command::kRun) {
    raise_alerts(rows);
    if (metrics_) publish_metrics(last_report_, rows);
  }
  if (options_.verbose) std::fprintf(stderr, "sockleak: report: %zu rows in %s\n", rows.size(), watch.elapsed().c_str());
  if (output_closed_) return std::nullopt;
  return rows.size();
}

void Session::raise_alerts(const std::vector<ReportRow>& rows) {
  std::map<ProcessKey, ProcessObservation> by_process;
  std::map<ProcessKey, ProcessDetails> details;
  for (const ReportRow& row : rows) {
    ProcessObservation& o = by_process[row.group.process];
    o.process = row.group.process;
    o.name = row.process.name;
    o.fd_open = row.process.fd_open;
    o.fd_limit = row.process.fd_limit;
    o.seconds_to_emfile = row.forecast.seconds_to_emfile;
    if (row.group.state == TcpState::kCloseWait) o.close_wait += row.group.count;
    details[row.group.process] = row.process;
  }
  std::vector<ProcessObservation> observed;
  for (auto& [key, o] : by_process) observed.push_back(std::move(o));
  std::vector<std::pair<AlertTransition, ProcessDetails>> out;
  for (AlertTransition& t : alerts_.evaluate(observed, options_.alert_rules)) {
    auto known = details.find(t.process);
    ProcessDetails d = known != details.end() ? known->second : procs_.details(t.process, t.name);
    out.emplace_back(std::move(t), std::move(d));
  }
  if (pusher_) push_alerts(out, details);
  if (!writer_.write_alerts(out, context())) output_closed_ = true;
}

void Session::push_alerts(const std::vector<std::pair<AlertTransition, ProcessDetails>>& transitions,
                          const std::map<ProcessKey, ProcessDetails>& details) {
  auto outbound = [this](const AlertTransition& alert, const ProcessDetails& process) {
    return OutboundAlert{alert.id, alert_labels(alert, process, host_), alert_annotations(alert), {}, {}};
  };
  std::vector<OutboundAlert> firing;
  for (const AlertTransition& alert : alerts_.firing()) {
    auto known = details.find(alert.process);
    firing.push_back(outbound(alert, known != details.end() ? known->second : procs_.details(alert.process, alert.name)));
  }
  std::vector<OutboundAlert> resolved;
  for (const auto& [alert, process] : transitions) {
    if (!alert.firing) resolved.push_back(outbound(alert, process));
  }
  pusher_->update(std::move(firing), std::move(resolved));
}

void Session::publish_metrics(const LingerReport& report, const std::vector<ReportRow>& rows) {
  MetricsInput in;
  in.version = SOCKLEAK_VERSION;
  in.report = report;
  in.rows = rows;
  in.top_n = options_.metrics_top_n;
  in.stats = stats(false);
  in.map_capacity = options_.max_sockets;
  in.alerts_firing = alerts_.firing_by_rule();
  metrics_->publish(render_metrics(in));
}

void Session::drain_events(std::chrono::milliseconds wait) {
  bpf_.poll_events(wait, [this](std::span<const std::byte> bytes) {
    if (auto event = decode_event(bytes)) {
      if (event->kind == SL_EV_CALL_SITE) {
        name_call_site(*event);
      } else {
        table_.apply(*event);
      }
    } else if (auto exit = decode_exit_close(bytes)) {
      exit_closes_.push_back(*exit);
    } else {
      ++malformed_;
    }
  });
}

StatsSnapshot Session::stats(bool final) const {
  const KernelCounters k = bpf_.counters();
  StatsSnapshot s;
  s.events_received = table_.counters().events;
  s.events_lost = k.events_lost;
  s.events_malformed = malformed_;
  s.sockets_tracked = bpf_.tracked_sockets();
  s.sockets_untracked = table_.untracked();
  s.sockets_stale = k.stale_entries;
  s.call_sites_lost = k.stacks_lost;
  s.rows_lost = k.rows_lost;
  s.queues_truncated = k.queues_truncated;
  if (pusher_) {
    s.alert_pushes_sent = pusher_->sent();
    s.alert_pushes_failed = pusher_->failed();
  }
  s.reconciles = table_.counters().reconciles;
  s.reconcile_corrections = table_.counters().reconcile_corrections;
  s.close_tracking = bpf_.tracking_closes();
  s.holder_rereads = holder_rereads_;
  s.lingering = totals_;
  s.uptime_seconds = static_cast<double>(monotonic_ns() - started_ns_) / 1e9;
  s.final = final;
  return s;
}

bool Session::write_stats(bool final) { return writer_.write_stats(stats(final), context()); }

void Session::reload(Options next) {
  auto warn_fixed = [](bool changed, const char* what) {
    if (changed) std::fprintf(stderr, "sockleak: SIGHUP: %s changes need a restart; keeping the old value\n", what);
  };
  warn_fixed(next.ring_buffer_kib != options_.ring_buffer_kib, "--ring-buffer-kib");
  warn_fixed(next.max_sockets != options_.max_sockets, "--max-sockets");
  warn_fixed(next.syscall_hooks != options_.syscall_hooks, "--no-syscall-hooks");
  warn_fixed(next.call_sites != options_.call_sites, "--call-sites");
  warn_fixed(next.btf_path != options_.btf_path, "--btf");
  warn_fixed(next.disabled_features != options_.disabled_features, "--disable-feature");
  warn_fixed(next.alertmanager_urls.size() != options_.alertmanager_urls.size() ||
                 !std::equal(next.alertmanager_urls.begin(), next.alertmanager_urls.end(),
                             options_.alertmanager_urls.begin(),
                             [](const HttpUrl& a, const HttpUrl& b) { return a.text == b.text; }),
             "--alertmanager-url");
  warn_fixed(next.metrics_addr.has_value() != options_.metrics_addr.has_value() ||
                 (next.metrics_addr && (next.metrics_addr->host != options_.metrics_addr->host ||
                                        next.metrics_addr->port != options_.metrics_addr->port)),
             "--metrics-addr");
  next.ring_buffer_kib = options_.ring_buffer_kib;
  next.max_sockets = options_.max_sockets;
  next.syscall_hooks = options_.syscall_hooks;
  next.call_sites = options_.call_sites;
  next.btf_path = options_.btf_path;
  next.disabled_features = options_.disabled_features;
  next.alertmanager_urls = options_.alertmanager_urls;
  next.metrics_addr = options_.metrics_addr;
  sink_.reopen(next.output_path);
  writer_.set_format(next.format);
  options_ = std::move(next);
  bpf_.set_scan_thresholds(options_.thresholds, recheck_period(), options_.interval);
  full_scan_due_ = true;  // sockets reported under the old thresholds, or not yet under the new
  // A shorter --reconcile-interval or --established-idle applies at once.
  next_periodic_reconcile_ns_ =
      std::min(next_periodic_reconcile_ns_, monotonic_ns() + static_cast<uint64_t>(reconcile_period().count()));
}

RecordContext Session::context() const {
  return {rfc3339(std::chrono::system_clock::now()), host_, options_.thresholds};
}

}  // namespace sockleak
