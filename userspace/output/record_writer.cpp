#include "output/record_writer.h"

#include <cstdio>

#include "output/text_table.h"

namespace sockleak {

bool RecordWriter::write(const std::string& text) {
  if (closed_) return false;
  if (std::fwrite(text.data(), 1, text.size(), out_) != text.size() || std::fflush(out_) != 0) {
    closed_ = true;
  }
  return !closed_;
}

bool RecordWriter::write_report(const std::vector<ReportRow>& rows, const HostTotals& totals,
                                const RecordContext& ctx) {
  if (format_ == Format::kText) return write(text_report(rows, totals, ctx.timestamp));
  std::string lines;
  for (const ReportRow& row : rows) lines += ndjson_line(linger_record(row, ctx)) + "\n";
  return lines.empty() || write(lines);
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
    return write(line);
  }
  return write(ndjson_line(stats_record(stats, ctx)) + "\n");
}

}  // namespace sockleak
