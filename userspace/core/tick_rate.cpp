#include "core/tick_rate.h"

#include <array>
#include <cmath>

namespace sockleak {
namespace {

// CONFIG_HZ choices on x86, the architecture sockleak's BPF object is built for. (Others
// add 24..1024; 256 beside 250 is closer than a tick-timing in a busy VM can tell: measured
// here at 254.5 and 255.3 Hz on 250 Hz kernels under qemu TCG.)
constexpr std::array<uint32_t, 4> kConfigurable = {100, 250, 300, 1000};
// 250 and 300 are 18% apart: a measurement within 6% of one is that one.
constexpr double kSnapTolerance = 0.06;

// The uptime jiffies_64 implies at the right HZ matches CLOCK_MONOTONIC to within the few
// seconds between the two starting at boot; at a wrong HZ it is off by |uptime - 300 s| times
// the rates' relative difference (a sixth, between 250 and 300).
constexpr double kUptimeFit = 5.0;     // seconds
constexpr double kUptimeMargin = 10.0; // seconds the runner-up must be off by (250 vs 300 Hz: |uptime - 300 s| > 60 s)

}  // namespace

std::optional<TickRate> tick_rate_from_uptime(uint64_t jiffies64, uint64_t monotonic_ns) {
  const double uptime = static_cast<double>(monotonic_ns) / 1e9;
  const double since_wrap = static_cast<double>(static_cast<int64_t>(jiffies64 - (1ull << 32)));
  double best_error = 1e18, second_error = 1e18;
  uint32_t best = 0;
  for (uint32_t hz : kConfigurable) {
    const double error = std::fabs(since_wrap / hz + 300.0 - uptime);
    if (error < best_error) {
      second_error = best_error;
      best_error = error;
      best = hz;
    } else if (error < second_error) {
      second_error = error;
    }
  }
  if (best_error > kUptimeFit || second_error < kUptimeMargin || uptime <= 0) return std::nullopt;
  TickRate rate;
  rate.hz = best;
  rate.measured_hz = (since_wrap + 300.0 * best) / uptime;
  rate.snapped = true;
  rate.from_uptime = true;
  return rate;
}

std::optional<TickRate> tick_rate_between(const TickEdge& first, const TickEdge& second) {
  if (second.jiffies <= first.jiffies || second.at_ns <= first.at_ns) return std::nullopt;
  // Each edge happened somewhere in its window: take the middles, and give up when the
  // windows are wide against the span (a preempted sampler).
  const double a = (static_cast<double>(first.before_ns) + static_cast<double>(first.at_ns)) / 2;
  const double b = (static_cast<double>(second.before_ns) + static_cast<double>(second.at_ns)) / 2;
  const double span_ns = b - a;
  const double slack_ns = static_cast<double>(first.at_ns - first.before_ns + second.at_ns - second.before_ns) / 2;
  if (span_ns <= 0 || slack_ns > span_ns * kSnapTolerance / 2) return std::nullopt;
  TickRate rate;
  rate.measured_hz = static_cast<double>(second.jiffies - first.jiffies) * 1e9 / span_ns;
  uint32_t best = 0;
  double best_error = 1e9;
  for (uint32_t hz : kConfigurable) {
    const double error = std::fabs(rate.measured_hz - hz) / hz;
    if (error < best_error) {
      best = hz;
      best_error = error;
    }
  }
  rate.snapped = best_error <= kSnapTolerance;
  rate.hz = rate.snapped ? best : static_cast<uint32_t>(std::lround(rate.measured_hz));
  if (rate.hz == 0) return std::nullopt;
  return rate;
}

}  // namespace sockleak
