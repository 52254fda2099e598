// The NDJSON output contract (schema 1): field names in ECS/OpenTelemetry style.
// README "Output" documents every field; change both together and bump kSchema
// for anything that is not a pure addition.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/alert_engine.h"
#include "core/report_rows.h"

namespace sockleak {

inline constexpr int kSchema = 1;

struct RecordContext {
  std::string timestamp;  // RFC 3339 UTC with milliseconds
  std::string host;
  Thresholds thresholds;
};

nlohmann::ordered_json linger_record(const ReportRow& row, const RecordContext& ctx);
nlohmann::ordered_json stats_record(const StatsSnapshot& stats, const RecordContext& ctx);
nlohmann::ordered_json alert_record(const AlertTransition& alert, const ProcessDetails& process,
                                    const RecordContext& ctx);

// Keys keep insertion order (schema, type, @timestamp first) so lines read well.
// One line, no newline. Never throws on bad UTF-8 (process names are arbitrary bytes):
// invalid sequences become U+FFFD.
std::string ndjson_line(const nlohmann::ordered_json& record);

std::string rfc3339(std::chrono::system_clock::time_point t);

}  // namespace sockleak
