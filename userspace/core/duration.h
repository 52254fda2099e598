// Human durations on the command line: "500ms", "30s", "5m", "1h", "1m30s".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sockleak {

using Nanos = std::chrono::nanoseconds;

// Throws Error(kExitUsage) naming the bad input. Accepts units ns, us, ms, s, m, h,
// decimal numbers ("1.5s") and sums ("1m30s"); rejects signs, bare numbers, overflow.
Nanos parse_duration(std::string_view text);

// Shortest exact rendering for messages and --help defaults ("30s", "5m", "1.5s").
std::string format_duration(Nanos d);

// Seconds as a double, for output fields named *_seconds.
double to_seconds(Nanos d);

// CLOCK_MONOTONIC in nanoseconds: report schedules, and the clock bpf_ktime_get_ns() reads
// (but for a time namespace's offset).
uint64_t monotonic_ns();

}  // namespace sockleak
