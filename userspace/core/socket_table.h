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
#include "core/linger_report.h"
#include "core/linger_tally.h"
#include "core/process_key.h"
#include "core/tcp_state.h"

namespace sockleak {


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
  uint64_t shares_counted = 0;         // sockets counted into (or out of) reports one by one
  uint64_t tally_mismatches = 0;       // shares taken back that were never counted (0: a bug)
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
  static constexpr size_t kTopPeers = LingerTally::kTopPeers;
  static constexpr size_t kTopCallSites = LingerTally::kTopCallSites;
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
  Reconcile reconcile_needed(const AliveFn& alive);
  bool needs_reconcile(const AliveFn& alive) { return reconcile_needed(alive) != Reconcile::kNone; }
  // A lingering socket whose holders no reconcile has read (and that is not known to be
  // held by nobody).
  bool holders_unread() { return !holder_facts().unread.empty(); }
  // Those sockets, for a reconcile that reads their holders only; none when a reconcile
  // must walk every new socket anyway: sockets the kernel map could not hold are read only
  // by such walks (each replaces the last one's), and a walk of a few would drop them.
  std::vector<uint64_t> unread_holders() {
    if (!untracked_cookies_.empty()) return {};
    const auto& unread = holder_facts().unread;
    return {unread.begin(), unread.end()};
  }
  // Whether some lingering socket is held by more than one process: a close() by one of
  // them changes what is reported without a state change. Otherwise a holder's close()
  // of its last fd ends the socket (a state event), a fork shares it (forks of
  // holding() processes are counted in the kernel), and a socket passed with SCM_RIGHTS
  // is seen by the next full reconcile.
  bool shared_holders() { return !holder_facts().shared.empty(); }
  // Each holder of each such socket, as known now: what a reading of the holders' fd
  // tables confirms or corrects (confirm_holder; inode 0: the check is by cookie).
  std::vector<HolderCheck> shared_holder_checks();
  // The processes holding lingering sockets, as read so far.
  const std::set<ProcessKey>& holding();
  // fd closes since the last call, to check against the fd tables.
  std::vector<HolderCheck> take_holder_checks() { return std::exchange(holder_checks_, {}); }
  // What the fd table said: the process holds the socket through fds_open fds (0: gone,
  // and no longer its owner; the last holder gone asks for a full reconcile). Only sockets
  // whose holders a reconcile established are corrected.
  void confirm_holder(const HolderCheck& check, uint32_t fds_open);
  void request_reconcile() { reconcile_requested_ = true; }
  // Inside a pid namespace (a sidecar) the kernel's iterators see only its processes: a
  // socket none of them holds belongs to a process out of sight. Such sockets are then
  // neither reported nor counted (on the host, they count as unowned).
  void set_visible_only(bool visible_only) {
    visible_only_ = visible_only;
    recount_ = recount_facts_ = true;
  }
  // One-shot reports (snapshot, explain) read every held socket whole (SL_ROW_UNTRACKED)
  // and report once: each such row is kept as a compact record, counted into groups when
  // reported, rather than as a socket and a holder entry (100k sockets: ~7 MB, not ~22 MB).
  void set_one_shot(bool one_shot) { one_shot_ = one_shot; }

  // Groups, totals and histograms are tallies kept up to date one socket at a time: a
  // socket is counted out before anything it was counted from changes (its reading, its
  // holders, its listener) and counted in again at the next report. Ages are computed from
  // each socket's linger start, so a report after few changes costs few updates. Every
  // socket is recounted only when the thresholds or what is visible change.
  LingerReport report(const Thresholds& thresholds, uint64_t now_ns);

  TableCounters counters() const {
    TableCounters c = counters_;
    c.tally_mismatches += tally_.unmatched();  // since the last report
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

  // What the processes holding lingering sockets add up to (each socket counted once, by
  // its holders as far as they are known), kept up to date like the report's tallies.
  struct HolderFacts {
    std::unordered_set<uint64_t> unread;  // sockets whose holders no reconcile read (not known orphans)
    std::unordered_set<uint64_t> unaccepted;  // sockets queued on a listener (held by its holders)
    std::unordered_set<uint64_t> shared;  // sockets held by more than one process (accept queues aside)
    std::map<ProcessKey, uint32_t> holding;  // process -> sockets it holds
    std::set<ProcessKey> holding_set;
    bool holding_changed = false;
  };
  // What one socket adds to the holder facts (sign +1) or takes back (-1).
  void count_facts(const LingeringSocket& socket, int sign);
  // Its share of the report, if it lingers past its threshold at now_ns: false if not yet.
  bool count_report(const LingeringSocket& socket, int sign, uint64_t now_ns);
  // Before anything a lingering socket is counted from changes: takes its shares back and
  // queues it to be counted again. Every change to a lingering socket, its holders, its
  // orphan mark or (unaccepted) its listener goes through here first.
  void uncount(LingeringSocket& socket);
  void uncount(uint64_t cookie);
  // Count every socket not counted yet (the queues); the report, every socket if recount_.
  HolderFacts& holder_facts();
  void settle_report(const Thresholds& thresholds, uint64_t now_ns);
  // The threshold a socket in state lingers past, in the tallies' thresholds.
  Nanos threshold_of(TcpState state) const;
  // Every lingering socket without that share (kFactsCounted or kReportCounted), in queue.
  void requeue_all(uint8_t share, std::vector<uint64_t>& queue);
  void recount_report(uint64_t now_ns);
  // A socket new to lingering_ (just inserted): counted at the next read.
  void queue(uint64_t cookie) {
    uncounted_facts_.push_back(cookie);
    uncounted_report_.push_back(cookie);
  }
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
  uint32_t scan_mark_ = 0;

  // Shares of lingering sockets: LingeringSocket::counted says which it holds.
  static constexpr uint8_t kFactsCounted = 1;
  static constexpr uint8_t kReportCounted = 2;
  LingerTally tally_;
  HolderFacts facts_;
  std::vector<uint64_t> uncounted_facts_;
  std::vector<uint64_t> uncounted_report_;
  std::vector<uint64_t> below_threshold_;  // counted when they cross it (untracked sockets only)
  uint64_t below_until_ns_ = UINT64_MAX;   // the first of them crosses then
  Thresholds tally_thresholds_;
  bool recount_ = true;         // count every socket into the report afresh at the next one
  bool recount_facts_ = false;  // and into the holder facts
  using Lingering = std::unordered_map<uint64_t, LingeringSocket>;
  Lingering lingering_;
  // Captures of lingering sockets' call sites (call sites on only), by socket: changed
  // with the socket's reading, after it is counted out.
  std::unordered_map<uint64_t, LingeringSocket::Capture> captures_;
  void set_capture(uint64_t cookie, const sl_sock_row& row);
  const LingeringSocket::Capture* capture_of(const LingeringSocket& socket) const;
  // Takes a socket out of lingering_ (counted out already), with its capture.
  Lingering::iterator erase_lingering(Lingering::iterator it);
  std::unordered_map<uint64_t, Held> holders_;
  uint32_t reconciles_read_ = 0;  // numbers the reconciles for Held::read_by
  std::unordered_set<uint64_t> orphans_;  // reconciled and held by nobody
  std::unordered_map<uint64_t, Listener> listeners_;  // by identity
  std::unordered_multimap<uint64_t, uint64_t> listeners_by_port_;  // (netns, family, port) -> identity
  std::map<ProcessKey, std::string> names_;
  std::vector<HolderCheck> holder_checks_;
  bool reconcile_requested_ = false;
  bool visible_only_ = false;  // changes only with recount_
  std::vector<uint64_t> untracked_cookies_;  // untracked sockets seen by the last reconcile
  bool one_shot_ = false;
  std::deque<ReadWhole> read_whole_;  // by socket, then holder, once the reconcile is read
  size_t read_whole_sockets_ = 0;
  TableCounters counters_;
};

}  // namespace sockleak
