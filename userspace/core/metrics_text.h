// Prometheus text exposition (format 0.0.4) of sockleak's state. One `sockleak_` prefix,
// base units, `_total` counters, bounded labels: per-process series only for the top-N
// offenders (pid, process, state), never addresses or ports.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/report_rows.h"
#include "core/socket_table.h"

namespace sockleak {

struct MetricsInput {
  std::string version;
  LingerReport report;             // host totals and age histograms
  std::vector<ReportRow> rows;     // per (process, state), most sockets first
  size_t top_n = 20;
  StatsSnapshot stats;
  uint64_t map_capacity = 0;       // kernel socket map size, for the fill ratio
  std::map<std::string, uint32_t> alerts_firing;  // by rule
};

std::string render_metrics(const MetricsInput& input);

// A label value safe for the exposition format: escaped, and printable ASCII only.
std::string label_value(const std::string& raw);

}  // namespace sockleak
