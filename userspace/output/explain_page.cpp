#include "output/explain_page.h"

#include <cstdio>

#include "core/hints.h"
#include "output/text_table.h"

namespace sockleak {
namespace {

std::string format(const char* fmt, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, value);
  return buf;
}

std::string fd_line(const ProcessDetails& p, const std::vector<ReportRow>& rows) {
  if (!p.fd_open) return "File descriptors: unknown (no access to /proc/PID/fd)\n";
  std::string line = "File descriptors: " + std::to_string(*p.fd_open) + " open";
  if (p.fd_limit) {
    line += " of " + std::to_string(*p.fd_limit) + " (RLIMIT_NOFILE soft limit, " +
            format("%.1f", 100.0 * static_cast<double>(*p.fd_open) / static_cast<double>(*p.fd_limit)) + "% used)";
  }
  std::optional<double> eta;
  for (const ReportRow& r : rows) {
    if (r.forecast.seconds_to_emfile) eta = r.forecast.seconds_to_emfile;
  }
  if (eta) {
    line += "\n  growing: EMFILE (\"too many open files\") in about " + format("%.1f", *eta / 60) + " minutes";
  } else {
    line += "\n  not growing while sampled";
  }
  return line + "\n";
}

// "container ... in pod NS/NAME" or "systemd unit ...", as a line of its own; empty otherwise.
std::string identity_line(const WorkloadIdentity& id) {
  std::string line;
  if (!id.container_id.empty()) {
    line = "container " + id.container_id.substr(0, 12);
    if (!id.container_name.empty()) line += " (" + id.container_name + ")";
    if (!id.container_runtime.empty()) line += ", " + id.container_runtime;
  }
  if (!id.pod_uid.empty()) {
    line += " in pod " + (id.pod_name.empty() ? id.pod_uid : id.pod_namespace + "/" + id.pod_name);
  }
  if (!id.systemd_unit.empty()) line = "systemd unit " + id.systemd_unit;
  return line.empty() ? "" : line + "\n";
}

}  // namespace

std::string explain_page(uint32_t pid, const ProcessDetails& process, const std::vector<ReportRow>& rows,
                         const Thresholds& thresholds, const std::string& sampled_for) {
  std::string page = "sockleak explain: pid " + std::to_string(pid) + " (" + printable(process.name) + ")";
  if (process.start_time) page += ", started " + *process.start_time;
  page += "\n" + identity_line(process.identity) + "\n" + fd_line(process, rows) + "\n";
  page += "Lingering sockets (CLOSE_WAIT older than " + format_duration(thresholds.close_wait) +
          ", ESTABLISHED idle longer than " + format_duration(thresholds.established_idle) + "; sampled for " +
          sampled_for + "):\n";
  if (rows.empty()) return page + "  none. Nothing lingers past the thresholds.\n";
  for (const ReportRow& r : rows) {
    const LingerGroup& g = r.group;
    const LingerCause cause = linger_cause(g);
    // append() chains: GCC 12 warns (-Wrestrict, falsely) on "literal" + std::string here.
    page.append("\n").append(state_name(g.state)).append(": ").append(std::to_string(g.count)).append(" sockets");
    if (g.listen) page.append(" never accepted on ").append(g.listen->to_string());
    page.append(", oldest ").append(g.oldest_is_lower_bound ? "more than " : "");
    page.append(format("%.1f", to_seconds(g.oldest))).append("s");
    if (r.forecast.leak_rate_per_minute) {
      page.append(", ").append(format("%+.1f", *r.forecast.leak_rate_per_minute)).append("/min");
    }
    page.append("\n  peers:");
    for (const PeerCount& p : g.top_peers) {
      page.append(" ").append(p.peer.to_string()).append(" (").append(std::to_string(p.count));
      if (p.unread) page.append(", ").append(std::to_string(p.unread)).append(" with unread data");
      page.append(")");
    }
    page += "\n  unread data: " + std::to_string(g.unread_count) + " sockets, " + std::to_string(g.unread_bytes) +
            " bytes\n  cause: " + std::string(cause_name(cause)) + " — " + r.forecast.hint + "\n  what to change: " +
            std::string(cause_advice(cause)) + "\n";
    for (const CallSite& site : r.call_sites) {
      page.append("  call site (").append(std::to_string(site.count)).append(" sockets):\n");
      for (const std::string& frame : site.frames) page.append("    ").append(frame).append("\n");
    }
  }
  return page;
}

}  // namespace sockleak
