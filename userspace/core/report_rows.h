// Plain data handed from the monitor to the sinks: one linger group plus what /proc
// said about its process, and the counters behind a stats record.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/socket_table.h"
#include "core/workload_identity.h"

namespace sockleak {

struct ProcessDetails {
  std::string name;                       // comm; may hold any bytes
  std::optional<std::string> start_time;  // RFC 3339, UTC
  std::optional<uint64_t> fd_open;        // entries in /proc/PID/fd
  std::optional<uint64_t> fd_limit;       // RLIMIT_NOFILE soft limit
  WorkloadIdentity identity;              // container, pod, systemd unit
};

// What the history says about a (process, state): how fast it leaks, when it hits EMFILE.
struct Forecast {
  std::optional<double> leak_rate_per_minute;  // lingering sockets per minute, over the trend window
  std::optional<double> seconds_to_emfile;     // at the current fd growth
  std::string hint;                            // plain-language likely cause
};

// A call site, symbolized: innermost frame first ("func (file:line)" or "0xADDR (module)").
struct CallSite {
  uint32_t count = 0;
  std::vector<std::string> frames;
};

struct ReportRow {
  LingerGroup group;
  ProcessDetails process;
  Forecast forecast;
  std::vector<CallSite> call_sites;
};

struct StatsSnapshot {
  uint64_t events_received = 0;
  uint64_t events_lost = 0;        // ring buffer full (BPF per-CPU counter)
  uint64_t events_malformed = 0;   // wrong size or kind
  uint64_t sockets_tracked = 0;    // entries in the kernel socket map
  uint64_t sockets_untracked = 0;  // held sockets without a map entry (map full), as of the last reconcile
  uint64_t sockets_stale = 0;      // map entries outliving their socket, removed
  uint64_t rows_lost = 0;          // iterator output overflow
  uint64_t queues_truncated = 0;   // accept queue walks that stopped at SL_MAX_QUEUED children
  uint64_t call_sites_lost = 0;    // --call-sites stacks not captured (stack map full)
  uint64_t alert_pushes_sent = 0;    // --alertmanager-url batches accepted
  uint64_t alert_pushes_failed = 0;  // and attempts that failed
  uint64_t reconciles = 0;
  uint64_t reconcile_corrections = 0;
  bool close_tracking = false;     // the close hook is attached (only while a lingering socket is shared)
  uint64_t holder_rereads = 0;     // re-readings of the fd tables of processes sharing lingering sockets
  HostTotals lingering;
  double uptime_seconds = 0;
  bool final = false;
};

}  // namespace sockleak
