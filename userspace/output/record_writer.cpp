#include "output/record_writer.h"

#include <cstdio>

#include "output/text_table.h"

namespace sockleak {

bool RecordWriter::write_report(const std::vector<ReportRow>& rows, const HostTotals& totals,
                                const RecordContext& ctx) {
  if (format_ == Format::kText) return sink_.write(text_report(rows, totals, ctx.timestamp));
  std::string lines;
  for (const ReportRow& row : rows) lines += ndjson_line(linger_record(row, ctx)) + "\n";
  return lines.empty() || sink_.write(lines);
}

bool RecordWriter::write_alerts(const std::vector<std::pair<AlertTransition, ProcessDetails>>& alerts,
                                const RecordContext& ctx) {
  std::string lines;
  for (const auto& [alert, process] : alerts) {
    if (format_ == Format::kText) {
      lines += ctx.timestamp + "  ALERT " + (alert.firing ? "FIRING " : "RESOLVED ") + printable(alert.summary) + "\n";
    } else {
      lines += ndjson_line(alert_record(alert, process, ctx)) + "\n";
    }
  }
  return lines.empty() || sink_.write(lines);
}

bool RecordWriter::write_stats(const StatsSnapshot& stats, const RecordContext& ctx) {
  if (format_ == Format::kText) {
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s  stats: %llu events, %llu lost, %llu sockets tracked, %llu reconcile corrections%s\n",
                  ctx.timestamp.c_str(), static_cast<unsigned long long>(stats.events_received),
                  static_cast<unsigned long long>(stats.events_lost),
                  static_cast<unsigned long long>(stats.sockets_tracked),
                  static_cast<unsigned long long>(stats.reconcile_corrections), stats.final ? " (final)" : "");
    return sink_.write(line);
  }
  return sink_.write(ndjson_line(stats_record(stats, ctx)) + "\n");
}

}  // namespace sockleak
