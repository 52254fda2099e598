// `sockleak explain PID`: one human-readable page about one process — its lingering
// sockets by state, peer and cause, its fd headroom and forecast, and what to change.
#pragma once

#include <string>
#include <vector>

#include "core/report_rows.h"

namespace sockleak {

std::string explain_page(uint32_t pid, const ProcessDetails& process, const std::vector<ReportRow>& rows,
                         const Thresholds& thresholds, const std::string& sampled_for);

}  // namespace sockleak
