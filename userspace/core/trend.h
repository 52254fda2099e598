// TrendTracker: per-process history of lingering counts and open fds over a window,
// turned into a leak rate (sockets per minute) and a forecast of fd exhaustion (EMFILE).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>

#include "core/socket_table.h"

namespace sockleak {

class TrendTracker {
 public:
  explicit TrendTracker(Nanos window = std::chrono::minutes(10)) : window_(window) {}

  void observe_lingering(const ProcessKey& process, TcpState state, uint64_t now_ns, uint32_t count);
  void observe_fds(const ProcessKey& process, uint64_t now_ns, uint64_t fd_open);
  // Drops samples older than the window and processes not observed within it.
  void prune(uint64_t now_ns);

  // Least-squares slope over the window; nullopt until two samples 1s apart exist.
  std::optional<double> leak_rate_per_minute(const ProcessKey& process, TcpState state) const;
  // Seconds until fd_open reaches limit at the current fd growth rate; nullopt when
  // fds are not growing (or too few samples).
  std::optional<double> seconds_to_emfile(const ProcessKey& process, uint64_t fd_open, uint64_t limit) const;

 private:
  struct Sample {
    uint64_t t_ns;
    double value;
  };
  using Series = std::deque<Sample>;
  static void add(Series& series, uint64_t now_ns, double value);
  static std::optional<double> slope_per_second(const Series& series);

  Nanos window_;
  std::map<std::pair<ProcessKey, TcpState>, Series> lingering_;
  std::map<ProcessKey, Series> fds_;
};

}  // namespace sockleak
