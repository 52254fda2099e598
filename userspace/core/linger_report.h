// What a report says: the lingering sockets a scan found, and what they add up to per
// holder process and state (groups), per host (totals) and by age (histograms).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/abi.h"
#include "core/duration.h"
#include "core/endpoint.h"
#include "core/process_key.h"
#include "core/tcp_state.h"

namespace sockleak {

struct Thresholds {
  Nanos close_wait = std::chrono::seconds(30);
  Nanos established_idle = std::chrono::minutes(5);
  bool operator==(const Thresholds&) const = default;
};

// A socket the last scan found past a threshold.
struct LingeringSocket {
  // Laid out by size: a host may have 100k of these.
  uint64_t cookie = 0;
  // CLOSE_WAIT: when it entered the state; ESTABLISHED: its last activity (read time less
  // idle time). CLOCK_MONOTONIC.
  uint64_t start_ns = 0;
  uint64_t listener = 0;       // unaccepted: its listener's identity, once a reconcile walked its queue
  ProcessKey owner;            // pid 0: unknown
  // Who captured the call site and the executable it ran then: kept beside the socket
  // (capture_of), only with a stack (16 bytes more per socket would take a 100k-socket
  // table's hash nodes to the next allocation size).
  struct Capture {
    ProcessKey process;
    ExeId exe;
  };
  Endpoint local;
  Endpoint peer;
  uint32_t netns = 0;
  uint32_t rx_queue = 0;
  uint32_t stack_id = SL_NO_STACK;  // call site that created it
  uint32_t scan_mark = 0;      // the scan that last named it
  TcpState state = TcpState::kEstablished;
  bool since_is_lower_bound = false;
  bool unaccepted = false;     // in a listener's accept queue: no process ever accepted it
  bool untracked = false;      // from a reconcile row: not in the kernel map, so no scan reads it
  uint8_t counted = 0;         // the table's bookkeeping: which of its shares its tallies hold

  static LingeringSocket from_row(const sl_sock_row& row, uint64_t seen_ns);
  // The row's capture, if its call site has one.
  static std::optional<Capture> capture_of(const sl_sock_row& row);
  // CLOSE_WAIT: time in state; ESTABLISHED: time without data either way.
  Nanos age(uint64_t now_ns) const;
  // When that age began: age(now) = now - linger_start().
  uint64_t linger_start() const { return start_ns; }
  // Bytes received but not read by the process (a CLOSE_WAIT queue also holds the FIN).
  uint32_t unread_bytes() const;
};

struct PeerCount {
  Endpoint peer;  // address and port
  uint32_t count = 0;
  uint32_t unread = 0;  // of those, sockets with unread data in the receive queue
};

// Lingering sockets of one state held by one process.
struct LingerGroup {
  ProcessKey process;
  std::string name;  // from the kernel at the last reconcile; may be empty
  TcpState state = TcpState::kCloseWait;
  uint32_t count = 0;
  Nanos oldest{0};
  bool oldest_is_lower_bound = false;
  std::vector<PeerCount> top_peers;  // most sockets first, at most kTopPeers
  uint32_t unread_count = 0;         // sockets with unread data in the receive queue
  uint64_t unread_bytes = 0;
  struct CallSiteCount {
    uint32_t stack_id;
    uint32_t count;
    ProcessKey captured_in;  // the process whose stack it is (a holder may have exec'd since)
    ExeId exe;               // the executable it ran then
  };
  std::vector<CallSiteCount> call_sites;  // most sockets first, at most kTopCallSites
  std::vector<uint32_t> netns;       // distinct network namespaces, ascending
  // Sockets no process accepted, reported under the processes holding their listener:
  // the address that listener is bound to. Unset for sockets the process holds.
  std::optional<Endpoint> listen;
};

// Each lingering socket counted once, however many processes hold it.
struct HostTotals {
  uint32_t close_wait = 0;
  uint32_t established = 0;
  uint32_t unowned = 0;  // held by no process, and no listener's holders to report them under
};

// Ages of the lingering sockets of one state (each socket once), in fixed buckets.
struct AgeHistogram {
  static constexpr std::array<double, 10> kBounds = {1, 5, 10, 30, 60, 300, 600, 1800, 3600, 21600};
  std::array<uint64_t, kBounds.size()> in_bucket{};  // per bucket, not cumulative; larger ages only in count
  uint64_t count = 0;
  double sum_seconds = 0;
  void add(double seconds);
};

// Sockets per call site (stack id), and per site who captured its stack: one stack id may
// be captured in several processes (forked workers running the same code). A site is
// reported with the capture most of its sockets have (of equal counts, the lowest process),
// whatever order sockets came and went in.
class CallSiteTally {
 public:
  // Nothing without a call site; capture: who captured it, if known.
  void add(const LingeringSocket& socket, const LingeringSocket::Capture* capture);
  void remove(const LingeringSocket& socket, const LingeringSocket::Capture* capture);  // as added
  // Most sockets first (of equal counts, the lower stack id), at most keep.
  std::vector<LingerGroup::CallSiteCount> most(size_t keep) const;

 private:
  struct Site {
    uint32_t count = 0;
    std::map<std::pair<ProcessKey, ExeId>, uint32_t> captures;  // sockets with a capture
  };
  std::map<uint32_t, Site> sites_;
};

struct LingerReport {
  std::vector<LingerGroup> groups;  // most sockets first
  HostTotals totals;
  AgeHistogram close_wait_ages;
  AgeHistogram established_ages;
};

}  // namespace sockleak
