// --format text: a table for people at a terminal, most lingering sockets first.
#pragma once

#include <string>
#include <vector>

#include "core/report_rows.h"

namespace sockleak {

// Header line with time and host totals, then one row per (process, state).
std::string text_report(const std::vector<ReportRow>& rows, const HostTotals& totals,
                        const std::string& timestamp);

// Printable form of a process name: control and non-ASCII bytes become '?'.
std::string printable(const std::string& name);

}  // namespace sockleak
