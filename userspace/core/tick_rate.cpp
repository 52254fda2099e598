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

}  // namespace

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
