// BpfMonitor: RAII owner of the sockleak BPF object. Construction opens, loads and
// attaches (tracepoints now, iterators on demand); destruction detaches and frees.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "core/abi.h"
#include "core/socket_table.h"
#include "kernel/unique_fd.h"
#include "core/tick_rate.h"
#include "core/kernel_features.h"
#include "core/new_sockets.h"

struct sockleak_bpf;
struct bpf_link;
struct bpf_map;
struct bpf_program;
struct ring_buffer;

namespace sockleak {

struct KernelCounters {
  uint64_t events_sent = 0;
  uint64_t events_lost = 0;     // ring buffer was full
  uint64_t sockets_full = 0;    // socket map was full
  uint64_t rows_lost = 0;       // iterator output overflow
  uint64_t stale_entries = 0;   // map entries whose socket was gone, removed by scans
  uint64_t stacks_lost = 0;     // call sites not captured (stack map full or collision)
  uint64_t queues_truncated = 0;  // accept queues walked only to SL_MAX_QUEUED
  uint64_t established = 0;     // connections that reached ESTABLISHED (any socket, any namespace)
  uint64_t holder_forks = 0;    // forks by processes set_holder_processes() named
};

struct BpfSettings {
  bool verbose = false;
  uint32_t ring_buffer_bytes = 1u << 20;  // a power of two, at least one page
  uint32_t max_sockets = 262144;          // socket map capacity
  bool syscall_hooks = true;              // tp_btf/sys_enter (close)
  uint32_t stack_sample = 0;              // call sites: 0 off, N = one socket in N (by inode)
  uint32_t stack_tgid = 0;                // call sites only for this process (0: any)
  // Call sites of accepted sockets too, at their first read (tp_btf/tcp_rcv_space_adjust:
  // every TCP read on the host passes it); connect()'s come from the state hook for free.
  bool accept_call_sites = true;
  std::string btf_path;                   // --btf: types for CO-RE instead of the kernel's own
  KernelFeatures features;                // from probe_kernel(); probed by the constructor if not
  // One-shot reports: reconciles read held sockets without adding them to the map (their
  // rows are SL_ROW_UNTRACKED, with everything a scan would say), so a scan after it walks
  // only what the map has for other reasons.
  bool read_only = false;
  // `exec`: watch one process tree (tp_btf/sched_process_fork); call sites and exit closes
  // (SL_EV_CALL_SITE, SL_EV_EXIT_CLOSE) only for it.
  bool watch_tree = false;
  // Map entries a scan of changes walks per call at least (whole marks of SL_WALK_MARK);
  // more when the map is so large that a walk would not finish within a recheck period.
  uint64_t scan_slice = 4 * SL_WALK_MARK;
  // Scans by loop (no map-element iterator): a second thread hands scan_rows' rows on while
  // a run fills it. Off, every full ring ends a run and the next resumes after it.
  bool drain_while_scanning = true;
  // Slots for notes of sockets entering CLOSE_WAIT: 2^bits (fewer only to test notes that
  // share a slot).
  uint32_t close_wait_slot_bits = SL_CLOSE_WAIT_SLOT_BITS;
};

class BpfMonitor {
 public:
  using EventBytes = std::function<void(std::span<const std::byte>)>;

  // Throws Error(kExitUnsupported) naming the step and errno when the kernel refuses, or
  // the missing feature and the first kernel with it.
  explicit BpfMonitor(const BpfSettings& settings = {});
  ~BpfMonitor();
  BpfMonitor(const BpfMonitor&) = delete;
  BpfMonitor& operator=(const BpfMonitor&) = delete;

  // recheck: how often a reported idle ESTABLISHED socket is read again (activity ends
  // its linger; nothing else tells). interval: how often scans of changes run; a slice
  // grows past scan_slice so that a whole walk takes at most recheck / interval scans.
  void set_scan_thresholds(const Thresholds& thresholds, Nanos recheck, Nanos interval = Nanos(0));
  // Tracked sockets past the thresholds (iter/bpf_map_elem over the socket map, or where the
  // kernel refuses it, bpf_for_each_map_elem() in a program run on demand): with
  // kChanges only those that started lingering since they were last reported, and
  // SL_ROW_RETIRED rows for reported ones that stopped, from the next slice of a walk that
  // goes on at the next call (see slice()); with kAll every lingering socket, in one whole walk.
  enum class Scan { kChanges, kAll };
  std::vector<sl_sock_row> scan_lingering(Scan kind);
  // Rows as they are read, a chunk at a time (nothing kept).
  using RowSink = std::function<void(std::span<const sl_sock_row>)>;
  void scan_lingering(Scan kind, const RowSink& sink);
  // Every process's ESTABLISHED/CLOSE_WAIT TCP fds (iter/task_file); seeds untracked sockets.
  // kNew sends only sockets whose holders were never sent (new in the map) and listeners.
  enum class Holders { kNew, kAll };
  std::vector<sl_sock_row> read_holders(Holders kind = Holders::kAll);
  void read_holders(Holders kind, const RowSink& sink);
  // The holders of these tracked sockets (and listeners) only: every fd table is walked,
  // but other connected sockets are passed over by their address, without reading them
  // (at 100k held sockets, about half the time of kNew). False, and nothing read, when it
  // cannot: a socket not in the map, more than SL_MAX_WANTED, or no bpf_sock_from_file.
  bool read_holders_of(std::span<const uint64_t> cookies, const RowSink& sink);
  // The connected TCP fds of these processes only (process_file_walk: iter/task_file of
  // one process each, pids as sockleak's pid namespace sees them), every one read whole,
  // nothing added to the map, no listeners. False where the kernel cannot restrict the
  // walk, or an attach failed: rows already sent are then not the whole answer.
  bool read_process_fds(const std::set<uint32_t>& tgids, const RowSink& sink);
  // The sockets the state hook noted reaching ESTABLISHED, as of now.
  NewSockets new_sockets() const;
  // kNew, visiting these sockets only (addresses from new_sockets().since(), which must be
  // every socket new since the last walk), other connected sockets passed over by their
  // address. False, and nothing read, when it cannot: more than SL_MAX_WANTED, or no
  // bpf_sock_from_file.
  bool read_new_holders(std::span<const uint64_t> addresses, const RowSink& sink);
  // Every process and the executable file it runs (iter/task), as call-site capture
  // records them. Empty unless call sites are on.
  std::vector<sl_capturer> read_executables();
  // Waits up to timeout for a wakeup, then hands every pending event to sink.
  void poll_events(std::chrono::milliseconds timeout, const EventBytes& sink);
  // poll_events also returns as soon as fd is readable (e.g. a pidfd: the process exited).
  void wake_on(int fd);

  // Close tracking (tp_btf/sys_enter) costs every syscall on the host, so it is attached
  // only while someone needs it. A no-op when syscall hooks are off.
  void track_closes(bool on);
  bool tracking_closes() const { return close_link_ != nullptr; }

  const KernelFeatures& features() const { return features_; }
  // HZ as measured at start-up; idle times and CLOSE_WAIT lower bounds are in its ticks.
  const TickRate& tick_rate() const { return tick_rate_; }
  // sockleak's pid namespace: level 0 is the host's. Pids in rows and events are as this
  // namespace sees them; processes it cannot see have pid 0.
  uint32_t pid_namespace_level() const { return pidns_level_; }

  // `exec` (watch_tree): children of this process, forked while it is set, root a watched
  // tree (0: none); and every process of the tree so far, exited ones included.
  void set_watch_parent(uint32_t tgid);
  std::set<ProcessKey> watched() const;
  // Processes whose forks KernelCounters::holder_forks counts (`run`, `exec`): those
  // holding reported sockets. False when there are more than the kernel map holds
  // (SL_MAX_HOLDER_PROCESSES): then the forks of some go uncounted.
  bool set_holder_processes(const std::set<ProcessKey>& processes);

  KernelCounters counters() const;
  uint64_t tracked_sockets() const;  // as counted by the last whole walk (so far, before one)
  // The address filter read against the map now (sockets named by address): the map's
  // entries, the sum of the filter's counts (equal when every insert and delete was
  // counted), and entries whose slot counts none (the state hook would pass them over).
  struct AddressFilterReading {
    uint64_t entries = 0;
    uint64_t counted = 0;
    uint64_t uncounted_entries = 0;
  };
  AddressFilterReading read_address_filter() const;
  // The kernel address of a socket in the map (what sampling of call sites goes by), if any.
  std::optional<uint64_t> socket_address(uint64_t cookie) const;
  uint64_t scan_runs() const { return scan_runs_; }  // runs of scan_sockets_loop so far (scans by loop)
  uint64_t scans_passed_over() const { return scans_passed_over_; }  // scans by loop with nothing due
  // User-space return addresses of a captured call site, innermost first (empty if gone).
  std::vector<uint64_t> stack(uint32_t stack_id) const;
  // Deletes captured stacks no tracked socket refers to any more; returns their ids
  // (the kernel reuses them for new stacks).
  std::vector<uint32_t> collect_unused_stacks();

 private:
  struct SkeletonDeleter { void operator()(sockleak_bpf* skel) const; };
  struct LinkDeleter { void operator()(bpf_link* link) const; };
  struct RingDeleter { void operator()(ring_buffer* ring) const; };
  static int on_event(void* ctx, void* data, size_t size);
  // Before each run of the reconcile walk: a new generation, its mode, no process named yet.
  void begin_holder_walk(bool new_only, bool wanted_only);
  std::vector<std::byte> run_iterator(bpf_link* link, const char* what);
  // The same, for iterators that write sl_sock_row records: chunks of rows to sink.
  void run_row_iterator(bpf_link* link, const char* what, const RowSink& sink);
  // One run of a program sockleak runs on demand (BPF_PROG_RUN, in this thread).
  void run_program(bpf_program* program, const char* what);
  // One reading of the clock sample.
  sl_clock_sample sample_clock();
  TickRate measure_tick_rate();
  // scan_lingering where map-element iterators are refused: whole walks of the map by
  // scan_sockets_loop, each run again from where scan_rows filled up until the map ends.
  void scan_by_loop(Scan kind, const RowSink& sink);
  static int on_scan_row(void* ctx, void* data, size_t size);
  // Hands what scan_rows holds to sink (null: drops it), kScanChunkRows rows at a time.
  void drain_scan_ring(const RowSink* sink);
  // A walk of every fd table sending the sockets at these addresses (and listeners); with
  // new_only, of those only the ones whose holders were never sent. False as read_holders_of.
  bool read_wanted(std::span<const uint64_t> addresses, bool new_only, const RowSink& sink);
  // One run of scan_sockets_loop, its rows to sink (drained while it runs, then the rest).
  void run_scan_loop(const RowSink& sink);
  // After a drain: rethrows what on_scan_row caught, or err; hands the last chunk to the sink.
  void finish_scan_drain(int err);
  static constexpr size_t kScanChunkRows = 512;
  // Entries one run scans at most: the kernel does not preempt a run, so its length is
  // bounded; each run passes over the entries before its resume point again.
  static constexpr uint64_t kLoopRunEntries = 65536;

  std::unique_ptr<sockleak_bpf, SkeletonDeleter> skel_;
  std::unique_ptr<bpf_link, LinkDeleter> scan_link_;
  std::unique_ptr<bpf_link, LinkDeleter> holders_link_;
  bpf_program* holders_program_ = nullptr;  // reconcile_holders or its unrolled build
  std::unique_ptr<bpf_link, LinkDeleter> close_link_;
  std::unique_ptr<bpf_link, LinkDeleter> executables_link_;
  std::unique_ptr<ring_buffer, RingDeleter> ring_;
  std::unique_ptr<ring_buffer, RingDeleter> scan_ring_;  // scan_rows: scans by loop only
  std::vector<sl_sock_row> scan_rows_;  // on_scan_row's chunk, for scan_sink_
  const RowSink* scan_sink_ = nullptr;
  std::exception_ptr scan_error_;       // thrown in on_scan_row, rethrown after the drain
  UniqueFd walk_;            // the scan walk read in slices, open between them (iterator)
  uint64_t loop_scans_ = 0;  // scans of changes asked for (walks by loop: one in so many walks)
  uint64_t scan_runs_ = 0;   // runs of scan_sockets_loop
  bool drain_while_scanning_ = true;
  bool note_close_waits_ = false;  // CLOSE_WAIT sockets noted by the state hook, settled at scans
  uint64_t tracked_ = 0;     // entries the last whole walk visited
  bool walked_once_ = false;
  // Walks by loop: entry_writes as the last one began, and the earliest time an entry it
  // left falls due (0 until one ends whole). Scans of changes before then, with no entry
  // written since, are passed over (scans_passed_over_ of them).
  uint64_t writes_at_walk_ = 0;
  uint64_t next_due_ = 0;
  uint64_t scans_passed_over_ = 0;
  uint64_t scan_slice_ = 0;
  uint64_t scans_per_recheck_ = 1;
  std::set<ProcessKey> holder_processes_;  // as last set (the kernel map has them unless !fit)
  bool holder_processes_fit_ = true;
  // Entries the next scan of changes walks: scan_slice_, or the share of the map that
  // completes a walk in scans_per_recheck_ scans; whole marks.
  uint64_t slice() const;
  KernelFeatures features_;
  TickRate tick_rate_;
  uint32_t pidns_level_ = 0;
  const EventBytes* sink_ = nullptr;
  std::exception_ptr event_error_;  // thrown in on_event, rethrown by poll_events
};

}  // namespace sockleak
