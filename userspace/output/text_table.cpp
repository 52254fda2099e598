#include "output/text_table.h"

#include <cstdio>

#include "core/hints.h"

namespace sockleak {
namespace {

std::string fd_usage(const ProcessDetails& p) {
  std::string open = p.fd_open ? std::to_string(*p.fd_open) : "?";
  std::string limit = p.fd_limit ? std::to_string(*p.fd_limit) : "?";
  return open + "/" + limit;
}

std::string peer_summary(const LingerGroup& g) {
  if (g.top_peers.empty()) return "-";
  const PeerCount& top = g.top_peers.front();
  std::string s = top.peer.to_string() + " (" + std::to_string(top.count) + ")";
  if (g.top_peers.size() > 1) s += " +" + std::to_string(g.top_peers.size() - 1) + " more";
  return s;
}

std::string rate_text(const std::optional<double>& per_minute) {
  if (!per_minute) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%+.1f", *per_minute);
  return text;
}

// Time to EMFILE, coarse: what an operator decides on.
std::string eta_text(const std::optional<double>& seconds) {
  if (!seconds) return "-";
  char text[32];
  if (*seconds < 120) {
    std::snprintf(text, sizeof text, "%.0fs", *seconds);
  } else if (*seconds < 7200) {
    std::snprintf(text, sizeof text, "%.0fm", *seconds / 60);
  } else if (*seconds < 172800) {
    std::snprintf(text, sizeof text, "%.0fh", *seconds / 3600);
  } else {
    std::snprintf(text, sizeof text, "%.0fd", *seconds / 86400);
  }
  return text;
}

}  // namespace

std::string printable(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
  }
  return out;
}

std::string text_report(const std::vector<ReportRow>& rows, const HostTotals& totals,
                        const std::string& timestamp) {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%s  lingering: %u CLOSE_WAIT, %u idle ESTABLISHED (%u unowned)\n",
                timestamp.c_str(), totals.close_wait, totals.established, totals.unowned);
  out += line;
  if (rows.empty()) return out;
  std::snprintf(line, sizeof line, "  %-8s %-16s %-12s %6s %10s %12s %8s %7s %-14s %s\n", "PID", "PROCESS",
                "STATE", "COUNT", "OLDEST", "FDS/LIMIT", "RATE/MIN", "EMFILE", "CAUSE", "TOP PEER");
  out += line;
  for (const ReportRow& r : rows) {
    const LingerGroup& g = r.group;
    char oldest[32];
    std::snprintf(oldest, sizeof oldest, "%s%.1fs", g.oldest_is_lower_bound ? ">" : "",
                  to_seconds(g.oldest));
    std::snprintf(line, sizeof line, "  %-8u %-16s %-12s %6u %10s %12s %8s %7s %-14s %s\n", g.process.pid,
                  printable(r.process.name).c_str(), std::string(state_name(g.state)).c_str(), g.count,
                  oldest, fd_usage(r.process).c_str(), rate_text(r.forecast.leak_rate_per_minute).c_str(),
                  eta_text(r.forecast.seconds_to_emfile).c_str(),
                  std::string(cause_name(linger_cause(g))).c_str(), peer_summary(g).c_str());
    out += line;
  }
  return out;
}

}  // namespace sockleak
