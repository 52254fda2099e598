#include "core/trend.h"

#include <cmath>

namespace sockleak {

void TrendTracker::add(Series& series, uint64_t now_ns, double value) {
  if (!series.empty() && series.back().t_ns == now_ns) {
    series.back().value = value;
    return;
  }
  series.push_back({now_ns, value});
}

void TrendTracker::observe_lingering(const ProcessKey& process, TcpState state, uint64_t now_ns, uint32_t count) {
  add(lingering_[{process, state}], now_ns, count);
}

void TrendTracker::observe_fds(const ProcessKey& process, uint64_t now_ns, uint64_t fd_open) {
  add(fds_[process], now_ns, static_cast<double>(fd_open));
}

void TrendTracker::prune(uint64_t now_ns) {
  const uint64_t window = static_cast<uint64_t>(window_.count());
  const uint64_t oldest = now_ns > window ? now_ns - window : 0;
  auto trim = [oldest](auto& map) {
    for (auto it = map.begin(); it != map.end();) {
      Series& s = it->second;
      while (!s.empty() && s.front().t_ns < oldest) s.pop_front();
      it = s.empty() ? map.erase(it) : std::next(it);
    }
  };
  trim(lingering_);
  trim(fds_);
}

std::optional<double> TrendTracker::slope_per_second(const Series& series) {
  if (series.size() < 2 || series.back().t_ns - series.front().t_ns < 1'000'000'000) return std::nullopt;
  // Least squares on centred values: a constant series gives exactly 0 (the uncentred sums
  // of large timestamps left rounding residue such as 5e-13 per minute).
  const double n = static_cast<double>(series.size());
  const double t0 = static_cast<double>(series.front().t_ns);
  double mean_t = 0, mean_v = 0;
  for (const Sample& s : series) {
    mean_t += (static_cast<double>(s.t_ns) - t0) / 1e9;
    mean_v += s.value;
  }
  mean_t /= n;
  mean_v /= n;
  double sum_tt = 0, sum_tv = 0;
  for (const Sample& s : series) {
    const double dt = (static_cast<double>(s.t_ns) - t0) / 1e9 - mean_t;
    sum_tt += dt * dt;
    sum_tv += dt * (s.value - mean_v);
  }
  if (sum_tt <= 0) return std::nullopt;
  const double slope = sum_tv / sum_tt;
  // Counts are whole numbers: a fitted change of under half a unit across the samples is
  // no change at all.
  const double span = static_cast<double>(series.back().t_ns - series.front().t_ns) / 1e9;
  return std::fabs(slope * span) < 0.5 ? 0.0 : slope;
}

std::optional<double> TrendTracker::leak_rate_per_minute(const ProcessKey& process, TcpState state) const {
  auto it = lingering_.find({process, state});
  if (it == lingering_.end()) return std::nullopt;
  auto slope = slope_per_second(it->second);
  if (!slope) return std::nullopt;
  return *slope * 60.0;
}

std::optional<double> TrendTracker::seconds_to_emfile(const ProcessKey& process, uint64_t fd_open,
                                                      uint64_t limit) const {
  auto it = fds_.find(process);
  if (it == fds_.end()) return std::nullopt;
  auto slope = slope_per_second(it->second);
  if (!slope || *slope <= 0) return std::nullopt;
  if (fd_open >= limit) return 0.0;
  return static_cast<double>(limit - fd_open) / *slope;
}

}  // namespace sockleak
