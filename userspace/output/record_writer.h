// RecordWriter: renders reports, alerts and stats as NDJSON or a text table onto an
// OutputSink, and notices when the reader is gone so the program can stop cleanly.
#pragma once

#include <vector>

#include "app/options.h"
#include "core/alert_engine.h"
#include "output/json_records.h"
#include "output/output_sink.h"

namespace sockleak {

class RecordWriter {
 public:
  RecordWriter(Format format, OutputSink& sink) : format_(format), sink_(sink) {}

  // Each returns false once the output is closed.
  bool write_report(const std::vector<ReportRow>& rows, const HostTotals& totals, const RecordContext& ctx);
  bool write_alerts(const std::vector<std::pair<AlertTransition, ProcessDetails>>& alerts, const RecordContext& ctx);
  bool write_stats(const StatsSnapshot& stats, const RecordContext& ctx);
  void set_format(Format format) { format_ = format; }

 private:
  Format format_;
  OutputSink& sink_;
};

}  // namespace sockleak
