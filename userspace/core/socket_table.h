// SocketTable: the aggregator. Kernel facts in (ring-buffer events, iterator rows,
// a monotonic clock reading), per-(process, state) linger groups out. Knows nothing
// of libbpf or /proc, so every rule here is tested with fake rows and a fake clock.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/abi.h"
#include "core/duration.h"
#include "core/endpoint.h"
#include "core/holder_set.h"
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
  uint64_t since_ns = 0;       // entered state (CLOCK_MONOTONIC)
  uint64_t idle_ns = 0;        // idle at seen_ns
  uint64_t seen_ns = 0;        // when the scan read it
  uint64_t listener = 0;       // unaccepted: its listener's identity, once a reconcile walked its queue
  ProcessKey owner;            // pid 0: unknown
  // Who captured the call site and the executable it ran then; only with a stack.
  struct Capture {
    ProcessKey process;
    ExeId exe;
  };
  std::shared_ptr<const Capture> capture;
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

  static LingeringSocket from_row(const sl_sock_row& row, uint64_t seen_ns);
  // CLOSE_WAIT: time in state; ESTABLISHED: time without data either way.
  Nanos age(uint64_t now_ns) const;
  // When that age began: age(now) = now - linger_start() (0 if before the clock's start).
  uint64_t linger_start() const;
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

struct LingerReport {
  std::vector<LingerGroup> groups;  // most sockets first
  HostTotals totals;
  AgeHistogram close_wait_ages;
  AgeHistogram established_ages;
};

// A process closed an fd of a reported socket. It may still hold the socket through
// another fd the events never saw (a dup: Go's conn.File(), Python's socket.dup()), so the
// monitor checks its fd table for the socket's inode before the next report.
struct HolderCheck {
  uint64_t cookie = 0;
  ProcessKey process;
  uint32_t inode = 0;
};

struct TableCounters {
  uint64_t events = 0;
  uint64_t reconciles = 0;
  uint64_t reconcile_corrections = 0;  // holder facts the events had wrong or missed
  uint64_t report_rebuilds = 0;        // reports that recounted every lingering socket
};

// What to show: --pid, --comm, --min-count. Empty sets accept everything.
struct GroupFilter {
  std::set<uint32_t> pids;
  std::set<std::string> comms;
  std::optional<std::set<ProcessKey>> processes;  // `exec`: only these (the watched tree)
  uint32_t min_count = 1;
  bool accepts(const LingerGroup& group) const;
};

class SocketTable {
 public:
  static constexpr size_t kTopPeers = 5;
  static constexpr size_t kTopCallSites = 3;
  using AliveFn = std::function<bool(const ProcessKey&)>;

  // A ring-buffer event: state changes and fd closes of announced sockets.
  void apply(const sl_event& event);
  // Scan rows read at now_ns. A full scan (every lingering socket) replaces the previous
  // set; a scan of changes adds or updates the sockets in it and drops SL_ROW_RETIRED ones.
  enum class ScanRows { kChanges, kAll };
  void apply_scan(std::span<const sl_sock_row> rows, uint64_t now_ns, ScanRows kind = ScanRows::kAll);
  // The same in pieces, for rows read a chunk at a time (no copy of a 100k-row scan).
  void begin_scan(ScanRows kind);
  void add_scan_rows(std::span<const sl_sock_row> rows, uint64_t now_ns);
  void finish_scan();
  // Holder rows from every process's fd table replace what events had built. Rows of
  // sockets the kernel map could not hold (SL_ROW_UNTRACKED) also join the lingering
  // candidates, read at now_ns: scans cannot see them.
  // With kNew the rows are only those of sockets new to the kernel map (and listeners):
  // their holders replace what was known of them, the rest stays.
  enum class HolderRows { kNew, kAll };
  void apply_reconcile(std::span<const sl_sock_row> rows, uint64_t now_ns = 0, HolderRows kind = HolderRows::kAll);
  // The same in pieces.
  void begin_reconcile(uint64_t now_ns);
  void add_reconcile_rows(std::span<const sl_sock_row> rows);
  void finish_reconcile(HolderRows kind);

  // True when holder facts are uncertain: a lingering socket whose holders were never
  // read from the fd tables (newly lingering), whose owner closed it, an fd range
  // closed, a holder that has exited; or when the last reconcile found sockets the
  // kernel map could not hold (only reconciles see those).
  // kNew when only sockets new to the kernel map lack holders (a reconcile of those
  // serves), kAll when known holders may be wrong (an fd range closed, a holder exited).
  enum class Reconcile { kNone, kNew, kAll };
  Reconcile reconcile_needed(const AliveFn& alive) const;
  bool needs_reconcile(const AliveFn& alive) const { return reconcile_needed(alive) != Reconcile::kNone; }
  // A lingering socket whose holders no reconcile has read (and that is not known to be
  // held by nobody).
  bool holders_unread() const { return holder_basis().unread; }
  // Whether some lingering socket is held by more than one process: a close() by one of
  // them changes what is reported without a state change. Otherwise a holder's close()
  // of its last fd ends the socket (a state event), a fork shares it (forks of
  // holding() processes are counted in the kernel), and a socket passed with SCM_RIGHTS
  // is seen by the next full reconcile.
  bool shared_holders() const { return holder_basis().shared; }
  // The processes holding lingering sockets, as read so far.
  const std::set<ProcessKey>& holding() const { return holder_basis().holding; }
  // fd closes since the last call, to check against the fd tables.
  std::vector<HolderCheck> take_holder_checks() { return std::exchange(holder_checks_, {}); }
  // What the fd table said: the process holds the socket through fds_open fds (0: gone).
  // Only sockets whose holders a reconcile established are corrected.
  void confirm_holder(const HolderCheck& check, uint32_t fds_open);
  void request_reconcile() { reconcile_requested_ = true; }
  // Inside a pid namespace (a sidecar) the kernel's iterators see only its processes: a
  // socket none of them holds belongs to a process out of sight. Such sockets are then
  // neither reported nor counted (on the host, they count as unowned).
  void set_visible_only(bool visible_only) {
    visible_only_ = visible_only;
    changed();
  }
  // One-shot reports (snapshot, explain) read every held socket whole (SL_ROW_UNTRACKED)
  // and report once: each such row is kept as a compact record, counted into groups when
  // reported, rather than as a socket and a holder entry (100k sockets: ~7 MB, not ~22 MB).
  void set_one_shot(bool one_shot) { one_shot_ = one_shot; }

  // Groups and totals are rebuilt only when the table changed (or a socket below a
  // threshold may have crossed it); ages are computed from each socket's linger start, so a
  // report of an unchanged table costs no pass over its sockets.
  LingerReport report(const Thresholds& thresholds, uint64_t now_ns) const;

  TableCounters counters() const {
    TableCounters c = counters_;
    c.report_rebuilds = report_rebuilds_;
    return c;
  }
  size_t lingering() const { return lingering_.size(); }
  // Held sockets the last reconcile found without a kernel map entry (map full), each once.
  size_t untracked() const { return untracked_cookies_.size() + read_whole_sockets_; }

 private:
  // A listening socket in the fd tables at the last reconcile.
  struct Listener {
    Endpoint local;  // the address it is bound to (0.0.0.0 / :: for any)
    uint32_t netns = 0;
    HolderSet holders;
    bool operator==(const Listener&) const = default;
  };
  // read: whether the fd tables (a reconcile) said who holds it, rather than an owner guess.
  HolderSet holders_of(const LingeringSocket& socket, bool* read = nullptr) const;
  // The listener whose queue an unaccepted socket waits in: the one a reconcile found it
  // queued on, else the one bound to its local address or to its family's wildcard in its
  // namespace. Several alike (SO_REUSEPORT) cannot be told apart until a reconcile walks
  // their queues: nullptr until then.
  const Listener* listener_of(const LingeringSocket& socket) const;

  // The part of a report that does not change while the table does not: who holds what
  // and how many, with each group's and each socket's linger start instead of ages.
  struct ReportBasis {
    uint64_t version = ~0ull;
    Thresholds thresholds;
    uint64_t valid_until_ns = 0;            // a socket below a threshold may cross it then
    std::vector<LingerGroup> groups;        // sorted as reported; oldest filled per report
    std::vector<uint64_t> oldest_start;     // per group: its oldest socket's linger start
    HostTotals totals;
    std::vector<uint64_t> close_wait_starts;   // ascending
    std::vector<uint64_t> established_starts;  // ascending
    long double close_wait_start_sum = 0;      // for the histograms' sums of ages
    long double established_start_sum = 0;
  };
  // Whether holder facts are incomplete for a lingering socket, and who holds the rest:
  // recomputed only when the table changed.
  struct HolderBasis {
    uint64_t version = ~0ull;
    bool unread = false;
    bool shared = false;
    std::set<ProcessKey> holding;
  };
  void rebuild_basis(const Thresholds& thresholds, uint64_t now_ns) const;
  // A reconcile row: key holds the socket through one more fd.
  void read_holder(uint64_t cookie, const ProcessKey& key);

  // One-shot: one holder's row of a socket a reconcile read whole.
  struct ReadWhole {
    uint64_t cookie = 0;
    uint64_t start = 0;  // linger start
    ProcessKey holder;
    Endpoint peer;
    uint32_t netns = 0;
    uint32_t rx_queue = 0;
    uint8_t state = 0;
    bool since_is_lower_bound = false;
  };
  static LingeringSocket socket_of(const ReadWhole& row);
  // The holders of a socket read whole, if it was.
  std::optional<HolderSet> read_whole_holders(uint64_t cookie) const;
  const HolderBasis& holder_basis() const;
  void changed() { ++version_; }

  // Who holds a socket, and the reconcile that last read it: a full one drops what it did
  // not read. Read in place: a second table of 100k sockets per reconcile was 7 MB of peak.
  struct Held {
    HolderSet holders;
    uint32_t read_by = 0;  // the last reconcile that named it
    uint32_t added_by = 0;  // the reconcile that added it
  };
  // What a reconcile has read so far (rows come in chunks).
  struct ReconcileReading {
    uint64_t now_ns = 0;
    bool untracked_before = false;
    uint32_t mark = 0;  // this reconcile, in Held::read_by
    size_t sockets = 0;  // sockets named by its rows
    size_t added = 0;    // of those, sockets no reconcile had named
    // Sockets known before it whose holders now differ, with what was known: the others
    // read as they were, and need no copy.
    std::unordered_map<uint64_t, HolderSet> before;
    std::map<ProcessKey, std::string> names;
    ProcessKey last_named{~0u, ~0ull};
    std::unordered_map<uint64_t, Listener> listeners;
  };
  ReconcileReading reading_;
  ScanRows scan_kind_ = ScanRows::kAll;
  size_t scan_rows_ = 0;
  bool scan_news_ = false;  // the scan in progress changed something a report shows
  uint32_t scan_mark_ = 0;

  uint64_t version_ = 0;  // bumped by every change a report can show
  mutable ReportBasis basis_;
  mutable uint64_t report_rebuilds_ = 0;
  mutable HolderBasis holder_basis_;
  std::unordered_map<uint64_t, LingeringSocket> lingering_;
  std::unordered_map<uint64_t, Held> holders_;
  uint32_t reconciles_read_ = 0;  // numbers the reconciles for Held::read_by
  std::unordered_set<uint64_t> orphans_;  // reconciled and held by nobody
  std::unordered_map<uint64_t, Listener> listeners_;  // by identity
  std::unordered_multimap<uint64_t, uint64_t> listeners_by_port_;  // (netns, family, port) -> identity
  std::map<ProcessKey, std::string> names_;
  std::vector<HolderCheck> holder_checks_;
  bool reconcile_requested_ = false;
  bool visible_only_ = false;
  std::vector<uint64_t> untracked_cookies_;  // untracked sockets seen by the last reconcile
  bool one_shot_ = false;
  std::deque<ReadWhole> read_whole_;  // by socket, then holder, once the reconcile is read
  size_t read_whole_sockets_ = 0;
  TableCounters counters_;
};

}  // namespace sockleak
