#include "core/metrics_text.h"

#include <algorithm>
#include <cstdio>
#include <set>

namespace sockleak {
namespace {

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string lower_state(TcpState s) { return s == TcpState::kCloseWait ? "close_wait" : "established"; }

class Exposition {
 public:
  void family(const std::string& name, const std::string& type, const std::string& help) {
    out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, const std::string& labels, double value) {
    out_ += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number(value) + "\n";
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

void histogram(Exposition& e, const std::string& name, const std::string& state, const AgeHistogram& h) {
  uint64_t cumulative = 0;
  const std::string label = "state=\"" + state + "\"";
  for (size_t i = 0; i < AgeHistogram::kBounds.size(); ++i) {
    cumulative += h.in_bucket[i];
    e.sample(name + "_bucket", label + ",le=\"" + number(AgeHistogram::kBounds[i]) + "\"",
             static_cast<double>(cumulative));
  }
  e.sample(name + "_bucket", label + ",le=\"+Inf\"", static_cast<double>(h.count));
  e.sample(name + "_sum", label, h.sum_seconds);
  e.sample(name + "_count", label, static_cast<double>(h.count));
}

}  // namespace

std::string label_value(const std::string& raw) {
  std::string out;
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
  }
  return out;
}

std::string render_metrics(const MetricsInput& in) {
  Exposition e;
  e.family("sockleak_build_info", "gauge", "Build information; always 1.");
  e.sample("sockleak_build_info", "version=\"" + label_value(in.version) + "\"", 1);

  e.family("sockleak_lingering_sockets", "gauge",
           "Sockets lingering past their threshold on the host, each counted once.");
  e.sample("sockleak_lingering_sockets", "state=\"close_wait\"", in.report.totals.close_wait);
  e.sample("sockleak_lingering_sockets", "state=\"established\"", in.report.totals.established);
  e.family("sockleak_lingering_unowned_sockets", "gauge", "Lingering sockets held by no process.");
  e.sample("sockleak_lingering_unowned_sockets", "", in.report.totals.unowned);

  e.family("sockleak_linger_age_seconds", "histogram",
           "Ages of the sockets lingering now (CLOSE_WAIT: time in state; ESTABLISHED: idle time).");
  histogram(e, "sockleak_linger_age_seconds", "close_wait", in.report.close_wait_ages);
  histogram(e, "sockleak_linger_age_seconds", "established", in.report.established_ages);

  // Top-N offenders by lingering count; pid/process labels exist only for these. Two
  // processes with one pid and name (pid reuse) share a series: their values are merged.
  struct Series {
    std::string labels;
    double count = 0;
    double oldest = 0;
  };
  std::set<std::pair<uint32_t, uint64_t>> top;
  std::vector<Series> series;
  for (const ReportRow& r : in.rows) {
    if (top.size() >= in.top_n && !top.contains({r.group.process.pid, r.group.process.start_ns})) continue;
    top.insert({r.group.process.pid, r.group.process.start_ns});
    const std::string labels = "pid=\"" + std::to_string(r.group.process.pid) + "\",process=\"" +
                               label_value(r.process.name) + "\",state=\"" + lower_state(r.group.state) + "\"";
    auto same = std::find_if(series.begin(), series.end(), [&](const Series& s) { return s.labels == labels; });
    if (same == series.end()) same = series.insert(series.end(), Series{labels});
    same->count += r.group.count;
    same->oldest = std::max(same->oldest, to_seconds(r.group.oldest));
  }
  e.family("sockleak_process_lingering_sockets", "gauge",
           "Lingering sockets per process and state, for the top-N processes by count.");
  for (const Series& s : series) e.sample("sockleak_process_lingering_sockets", s.labels, s.count);
  e.family("sockleak_process_oldest_linger_seconds", "gauge",
           "Age of the oldest lingering socket per process and state, for the top-N processes.");
  for (const Series& s : series) e.sample("sockleak_process_oldest_linger_seconds", s.labels, s.oldest);

  const StatsSnapshot& s = in.stats;
  e.family("sockleak_events_total", "counter", "Kernel events processed.");
  e.sample("sockleak_events_total", "", static_cast<double>(s.events_received));
  e.family("sockleak_events_lost_total", "counter", "Kernel events lost because the ring buffer was full.");
  e.sample("sockleak_events_lost_total", "", static_cast<double>(s.events_lost));
  e.family("sockleak_reconciles_total", "counter", "Full reads of every process's fd table.");
  e.sample("sockleak_reconciles_total", "", static_cast<double>(s.reconciles));
  e.family("sockleak_reconcile_corrections_total", "counter",
           "Holder facts the event stream had wrong or missed, corrected by a reconcile.");
  e.sample("sockleak_reconcile_corrections_total", "", static_cast<double>(s.reconcile_corrections));
  e.family("sockleak_untracked_sockets", "gauge",
           "Held sockets without a kernel map entry (map full) at the last reconcile; still reported.");
  e.sample("sockleak_untracked_sockets", "", static_cast<double>(s.sockets_untracked));
  e.family("sockleak_accept_queues_truncated_total", "counter",
           "Accept queues a reconcile walked only in part (longer than 1024): sockets past that were not seeded.");
  e.sample("sockleak_accept_queues_truncated_total", "", static_cast<double>(s.queues_truncated));
  e.family("sockleak_tracked_sockets", "gauge", "TCP sockets in the kernel socket map.");
  e.sample("sockleak_tracked_sockets", "", static_cast<double>(s.sockets_tracked));
  e.family("sockleak_socket_map_fill_ratio", "gauge", "Kernel socket map entries over its capacity.");
  e.sample("sockleak_socket_map_fill_ratio", "",
           in.map_capacity ? static_cast<double>(s.sockets_tracked) / static_cast<double>(in.map_capacity) : 0);
  e.family("sockleak_close_tracking", "gauge",
           "1 while the close() hook is attached (only while a lingering socket is held by two processes), else 0.");
  e.sample("sockleak_close_tracking", "", s.close_tracking ? 1 : 0);
  e.family("sockleak_holder_rereads_total", "counter",
           "Re-readings of the fd tables of processes sharing a lingering socket (before reports, instead of "
           "the close() hook).");
  e.sample("sockleak_holder_rereads_total", "", static_cast<double>(s.holder_rereads));
  e.family("sockleak_alert_pushes_total", "counter",
           "Alert batches pushed to Alertmanager (--alertmanager-url), by result.");
  e.sample("sockleak_alert_pushes_total", "result=\"sent\"", static_cast<double>(s.alert_pushes_sent));
  e.sample("sockleak_alert_pushes_total", "result=\"failed\"", static_cast<double>(s.alert_pushes_failed));
  e.family("sockleak_alerts_firing", "gauge", "Alerts firing now, by rule.");
  for (const auto& [rule, n] : in.alerts_firing) e.sample("sockleak_alerts_firing", "rule=\"" + rule + "\"", n);
  return e.take();
}

}  // namespace sockleak
