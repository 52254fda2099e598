#include "kernel/bpf_monitor.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sys/epoll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "core/duration.h"
#include "core/error.h"
#include "core/event_decoder.h"
#include "kernel/kernel_probe.h"
#include "kernel/libbpf_log.h"
#include "kernel/unique_fd.h"
#include "sockleak.skel.h"

namespace sockleak {
namespace {

std::string errno_text(int err) {
  if (err < 0) err = -err;
  std::string text = libbpf_error_text(err);
  if (err == EPERM || err == EACCES) {
    text += " (the kernel refused: missing CAP_BPF/CAP_PERFMON, lockdown, or the verifier; -v shows libbpf's log)";
  }
  return text;
}

[[noreturn]] void unsupported(const std::string& step, int err) {
  throw Error(step + ": " + errno_text(err), kExitUnsupported);
}

}  // namespace

void BpfMonitor::SkeletonDeleter::operator()(sockleak_bpf* skel) const { sockleak_bpf__destroy(skel); }
void BpfMonitor::LinkDeleter::operator()(bpf_link* link) const { bpf_link__destroy(link); }
void BpfMonitor::RingDeleter::operator()(ring_buffer* ring) const { ring_buffer__free(ring); }

BpfMonitor::BpfMonitor(const BpfSettings& settings) {
  route_libbpf_log(settings.verbose);
  features_ = settings.features.probed ? settings.features : probe_kernel({settings.btf_path, {}, settings.verbose});
  require_supported(features_);
  const bool syscall_hooks = settings.syscall_hooks && features_.has(Feature::kSyscallTracepoints);

  LIBBPF_OPTS(bpf_object_open_opts, open_opts);
  if (!settings.btf_path.empty()) open_opts.btf_custom_path = settings.btf_path.c_str();
  skel_.reset(sockleak_bpf__open_opts(&open_opts));
  if (!skel_) unsupported("open BPF object", errno);
  // Iterators run on demand and close tracking when asked; the state tracepoint (and the
  // first-read hook that captures accepted sockets' call sites) attach for the whole run.
  bpf_program__set_autoattach(skel_->progs.scan_sockets, false);
  bpf_program__set_autoattach(skel_->progs.reconcile_holders, false);
  bpf_program__set_autoattach(skel_->progs.reconcile_holders_unrolled, false);
  bpf_program__set_autoattach(skel_->progs.on_sys_enter, false);
  bpf_program__set_autoattach(skel_->progs.list_executables, false);
  bpf_program__set_autoattach(skel_->progs.sample_clock, false);
  bpf_program__set_autoattach(skel_->progs.scan_sockets_loop, false);
  // Scans by iterator where the kernel loads it, else by bpf_for_each_map_elem().
  const bool scan_iterator = features_.has(Feature::kMapElemIterator);
  bpf_program__set_autoload(skel_->progs.scan_sockets, scan_iterator);
  bpf_program__set_autoload(skel_->progs.scan_sockets_loop, !scan_iterator);
  if (scan_iterator) bpf_map__set_autocreate(skel_->maps.scan_rows, false);
  bpf_program__set_autoload(skel_->progs.list_executables, settings.stack_sample > 0);
  // One of the two builds of the reconcile walk: bpf_loop()'s where the kernel has it.
  const bool loop = features_.has(Feature::kBpfLoop);
  bpf_program__set_autoload(skel_->progs.reconcile_holders, loop);
  bpf_program__set_autoload(skel_->progs.reconcile_holders_unrolled, !loop);
  bpf_program__set_autoload(skel_->progs.on_sys_enter, syscall_hooks);
  bpf_program__set_autoload(skel_->progs.on_read, settings.stack_sample > 0 && settings.accept_call_sites);
  // Forks of holders (and under `exec` of the watched tree): for commands that keep watching.
  bpf_program__set_autoload(skel_->progs.on_fork, settings.watch_tree || !settings.read_only);
  // One-shot reports read every socket from the fd tables and queues: no state hook, but
  // where sockets are named by address, whose births it follows (a queued socket seeded by
  // one walk of `explain --sample` must not name a new socket born at its address).
  bpf_program__set_autoload(skel_->progs.on_state_change,
                            !settings.read_only || !features_.has(Feature::kSocketCookie));

  if (int err = bpf_map__set_max_entries(skel_->maps.events, settings.ring_buffer_bytes)) {
    throw Error("ring buffer size " + std::to_string(settings.ring_buffer_bytes) + ": " + errno_text(err), kExitUsage);
  }
  // Maps only call sites or `exec` use keep one element otherwise: the kernel preallocates
  // them whole at creation (about 9 MB and 20 ms at every start for the stack and watched
  // maps), and programs still refer to them in branches the verifier drops.
  if (settings.stack_sample == 0) bpf_map__set_max_entries(skel_->maps.stacks, 1);
  if (!settings.watch_tree) {
    bpf_map__set_max_entries(skel_->maps.watched, 1);
    bpf_map__set_max_entries(skel_->maps.announced_sites, 1);
  }
  if (int err = bpf_map__set_max_entries(skel_->maps.sockets, settings.max_sockets)) {
    throw Error("socket map size " + std::to_string(settings.max_sockets) + ": " + errno_text(err), kExitUsage);
  }
  // Sockets entering CLOSE_WAIT noted in slots, settled before each scan (by bpf_loop()):
  // short connections then leave the map alone. `exec` adds them at once: a watched
  // process's exit may close one before any scan, and is reported from its entry.
  note_close_waits_ = loop && !settings.watch_tree && bpf_program__autoload(skel_->progs.on_state_change);
  bpf_program__set_autoload(skel_->progs.settle_close_waits, note_close_waits_);
  const uint32_t slot_bits = std::min<uint32_t>(settings.close_wait_slot_bits, 20);
  bpf_map__set_max_entries(skel_->maps.close_waits, note_close_waits_ ? 1u << slot_bits : 1);
  skel_->rodata->close_wait_slot_bits = slot_bits;
  skel_->rodata->note_close_waits = note_close_waits_;
  skel_->rodata->stack_sample = settings.stack_sample;
  skel_->rodata->stack_tgid = settings.stack_tgid;
  skel_->rodata->watch_tree = settings.watch_tree;
  skel_->rodata->use_socket_cookies = features_.has(Feature::kSocketCookie);
  // Only sockets named by address need the filter in front of their lookups.
  if (skel_->rodata->use_socket_cookies) bpf_map__set_max_entries(skel_->maps.address_filter, 1);
  skel_->rodata->use_sock_from_file = features_.has(Feature::kSockFromFile);
  if (libbpf_verbose()) {
    std::fprintf(stderr,
                 "sockleak: kernel %s: socket identity %s, sockets in files by %s, accept queues by %s, scans by "
                 "%s, syscall hooks %s, CLOSE_WAIT sockets %s\n",
                 features_.release.c_str(), skel_->rodata->use_socket_cookies ? "cookie" : "address",
                 skel_->rodata->use_sock_from_file ? "bpf_sock_from_file" : "probe reads",
                 loop ? "bpf_loop" : "an unrolled walk", scan_iterator ? "iter/bpf_map_elem" : "bpf_for_each_map_elem",
                 syscall_hooks ? "on" : "off", note_close_waits_ ? "noted, settled at scans" : "added at once");
  }
  if (int err = sockleak_bpf__load(skel_.get())) unsupported("load BPF programs", err);
  // Before anything attaches: the clock sample tells the tick rate and the pid namespace
  // whose pids every hook and iterator must speak in.
  {
    const sl_clock_sample self = sample_clock();
    pidns_level_ = self.pidns_level;
    skel_->bss->pidns_level = self.pidns_level;
    skel_->bss->pidns_inum = self.pidns_inum;
    tick_rate_ = measure_tick_rate();
    skel_->bss->jiffies_hz = tick_rate_.hz;
  }
  skel_->bss->reconcile_read_only = settings.read_only;
  scan_slice_ = std::max<uint64_t>(settings.scan_slice, SL_WALK_MARK);
  drain_while_scanning_ = settings.drain_while_scanning;
  if (libbpf_verbose()) {
    std::fprintf(stderr, "sockleak: kernel tick rate %u Hz (%s %.1f); pid namespace level %u\n", tick_rate_.hz,
                 tick_rate_.from_uptime ? "from uptime:" : "timed edges:", tick_rate_.measured_hz, pidns_level_);
  }
  if (int err = sockleak_bpf__attach(skel_.get())) {
    std::string attached;  // the hooks that attach for the whole run, as loaded
    for (const bpf_program* p : {skel_->progs.on_state_change, skel_->progs.on_read, skel_->progs.on_fork}) {
      if (bpf_program__autoload(p)) attached += std::string(attached.empty() ? " " : ", ") + bpf_program__section_name(p);
    }
    unsupported("attach" + attached, err);
  }
  if (syscall_hooks) {
    // Proves at start that close tracking can attach, rather than failing mid-run.
    track_closes(true);
    track_closes(false);
  }

  if (scan_iterator) {
    union bpf_iter_link_info info = {};
    info.map.map_fd = static_cast<__u32>(bpf_map__fd(skel_->maps.sockets));
    DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, opts);
    opts.link_info = &info;
    opts.link_info_len = sizeof info;
    scan_link_.reset(bpf_program__attach_iter(skel_->progs.scan_sockets, &opts));
    if (!scan_link_) unsupported("attach iter/bpf_map_elem", errno);
  } else {
    scan_ring_.reset(ring_buffer__new(bpf_map__fd(skel_->maps.scan_rows), &BpfMonitor::on_scan_row, this, nullptr));
    if (!scan_ring_) unsupported("open the scan ring buffer", errno);
  }
  holders_program_ = loop ? skel_->progs.reconcile_holders : skel_->progs.reconcile_holders_unrolled;
  holders_link_.reset(bpf_program__attach_iter(holders_program_, nullptr));
  if (!holders_link_) unsupported("attach iter/task_file", errno);
  if (settings.stack_sample > 0) {
    executables_link_.reset(bpf_program__attach_iter(skel_->progs.list_executables, nullptr));
    if (!executables_link_) unsupported("attach iter/task", errno);
  }

  ring_.reset(ring_buffer__new(bpf_map__fd(skel_->maps.events), &BpfMonitor::on_event, this, nullptr));
  if (!ring_) unsupported("open ring buffer", errno);

}

void BpfMonitor::run_program(bpf_program* program, const char* what) {
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  if (bpf_prog_test_run_opts(bpf_program__fd(program), &opts) != 0) {
    throw Error(std::string("run ") + what + ": " + errno_text(errno), kExitUnsupported);
  }
}

sl_clock_sample BpfMonitor::sample_clock() {
  run_program(skel_->progs.sample_clock, "the clock sample");
  return skel_->bss->clock_sample;
}

TickRate BpfMonitor::measure_tick_rate() {
  auto sample = [&] { return sample_clock(); };
  // The next change of the tick counter, bracketed by the readings around it. A tick is at
  // most 1/24 s apart; give up after 200 ms (a stalled clock).
  auto next_edge = [&] {
    sl_clock_sample before = sample();
    const uint64_t give_up = before.ktime_ns + 200'000'000;
    for (;;) {
      const sl_clock_sample now = sample();
      if (now.jiffies != before.jiffies) return TickEdge{now.jiffies, before.ktime_ns, now.ktime_ns};
      if (now.ktime_ns > give_up) throw Error("clock sample: the kernel tick counter did not advance in 200 ms");
      before = now;
    }
  };
  // One reading decides, unless uptime is near 300 s (see tick_rate_from_uptime).
  const sl_clock_sample first_look = sample();
  if (auto rate = tick_rate_from_uptime(first_look.jiffies, first_look.ktime_ns)) return *rate;
  // A preempted sampler widens an edge's window and the estimate is refused: try again,
  // doubling the span (50 ms to 800 ms), which tolerates wider windows.
  for (int span_ms = 50; span_ms <= 800; span_ms *= 2) {
    const TickEdge first = next_edge();
    std::this_thread::sleep_for(std::chrono::milliseconds(span_ms));
    const TickEdge second = next_edge();
    if (auto rate = tick_rate_between(first, second); rate && rate->snapped) return *rate;
  }
  throw Error("could not measure the kernel tick rate (HZ): uptime is near 300 s and tick timings were too noisy; "
              "start again in a minute",
              kExitRuntime);
}

BpfMonitor::~BpfMonitor() = default;

void BpfMonitor::set_watch_parent(uint32_t tgid) { skel_->bss->watch_parent = tgid; }

std::set<ProcessKey> BpfMonitor::watched() const {
  std::set<ProcessKey> out;
  const int fd = bpf_map__fd(skel_->maps.watched);
  __u32 key = 0;
  __u32 next = 0;
  for (__u32* prev = nullptr; bpf_map_get_next_key(fd, prev, &next) == 0; prev = &key) {
    key = next;
    __u64 start = 0;
    if (bpf_map_lookup_elem(fd, &key, &start) == 0) out.insert(ProcessKey{key, start});
  }
  return out;
}

bool BpfMonitor::set_holder_processes(const std::set<ProcessKey>& processes) {
  if (processes == holder_processes_ || !bpf_program__autoload(skel_->progs.on_fork)) return holder_processes_fit_;
  const int fd = bpf_map__fd(skel_->maps.holder_processes);
  for (const ProcessKey& gone : holder_processes_) {
    __u32 key = gone.pid;
    if (!processes.contains(gone)) bpf_map_delete_elem(fd, &key);
  }
  // Then every one (again): of two processes with one pid (one exited), the newer counts.
  holder_processes_fit_ = true;
  for (const ProcessKey& process : processes) {
    __u32 key = process.pid;
    __u64 start = process.start_ns;
    if (process.pid != 0 && bpf_map_update_elem(fd, &key, &start, BPF_ANY) != 0) holder_processes_fit_ = false;
  }
  holder_processes_ = processes;
  return holder_processes_fit_;
}

void BpfMonitor::set_scan_thresholds(const Thresholds& t, Nanos recheck, Nanos interval) {
  scans_per_recheck_ = interval.count() > 0 ? std::max<uint64_t>(1, static_cast<uint64_t>(recheck / interval)) : 1;
  skel_->bss->scan_config.close_wait_ns = static_cast<__u64>(t.close_wait.count());
  skel_->bss->scan_config.established_idle_ms =
      static_cast<__u64>(std::chrono::duration_cast<std::chrono::milliseconds>(t.established_idle).count());
  skel_->bss->scan_config.recheck_ns = static_cast<__u64>(recheck.count());
}

namespace {

// One read(2) of an iterator: retried on EINTR and on EAGAIN (the kernel stops a read after
// visiting a million objects without output, kernel/bpf/bpf_iter.c, so that it can
// reschedule; the next read resumes there). 0 at the end of the walk.
size_t read_iterator(int fd, void* buf, size_t len, const char* what) {
  for (;;) {
    const ssize_t n = ::read(fd, buf, len);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR && errno != EAGAIN) throw Error(std::string("read ") + what + ": " + errno_text(errno));
  }
}

}  // namespace

void BpfMonitor::run_row_iterator(bpf_link* link, const char* what, const RowSink& sink) {
  UniqueFd fd(bpf_iter_create(bpf_link__fd(link)));
  if (!fd.valid()) throw Error(std::string("start ") + what + ": " + errno_text(errno));
  // A chunk at a time: at 100k sockets a whole walk is 16 MB of rows.
  constexpr size_t kChunkRows = 512;
  std::vector<sl_sock_row> chunk(kChunkRows);
  size_t bytes = 0;  // in chunk
  for (;;) {
    auto* at = reinterpret_cast<char*>(chunk.data()) + bytes;
    const size_t n = read_iterator(fd.get(), at, kChunkRows * sizeof(sl_sock_row) - bytes, what);
    bytes += n;
    const size_t whole = bytes / sizeof(sl_sock_row);
    if (n == 0 || whole == kChunkRows) {
      sink(std::span<const sl_sock_row>(chunk.data(), whole));
      const size_t rest = bytes - whole * sizeof(sl_sock_row);
      std::memmove(chunk.data(), reinterpret_cast<char*>(chunk.data()) + whole * sizeof(sl_sock_row), rest);
      bytes = rest;
    }
    if (n == 0) break;
  }
  if (bytes != 0) {
    throw Error(std::string(what) + ": " + std::to_string(bytes) + " bytes left over, not a whole " +
                std::to_string(sizeof(sl_sock_row)) + "-byte row: BPF object and binary disagree on sl_sock_row");
  }
}

std::vector<std::byte> BpfMonitor::run_iterator(bpf_link* link, const char* what) {
  UniqueFd fd(bpf_iter_create(bpf_link__fd(link)));
  if (!fd.valid()) throw Error(std::string("start ") + what + ": " + errno_text(errno));
  std::vector<std::byte> bytes;
  std::byte chunk[64 * 1024];
  while (const size_t n = read_iterator(fd.get(), chunk, sizeof chunk, what)) bytes.insert(bytes.end(), chunk, chunk + n);
  return bytes;
}

namespace {

// Consumes a ring buffer on a thread of its own until stop(), which joins it: what its
// callbacks did happens before stop() returns. A failed consume ends it (stop() returns it).
class RingDrainer {
 public:
  explicit RingDrainer(ring_buffer* ring) : thread_([this, ring] { drain(ring); }) {}
  RingDrainer(const RingDrainer&) = delete;
  RingDrainer& operator=(const RingDrainer&) = delete;
  ~RingDrainer() { stop(); }
  int stop() {
    stopping_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
    return error_;
  }

 private:
  void drain(ring_buffer* ring) {
    while (!stopping_.load(std::memory_order_acquire)) {
      const int n = ring_buffer__consume(ring);
      if (n < 0) {
        error_ = n;
        return;
      }
      if (n == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  std::atomic<bool> stopping_{false};
  int error_ = 0;
  std::thread thread_;  // last: it starts once the rest is made
};

std::vector<sl_sock_row> without_marks(std::vector<sl_sock_row> rows) {
  std::erase_if(rows, [](const sl_sock_row& row) { return (row.flags & SL_ROW_WALK_MARK) != 0; });
  return rows;
}

}  // namespace

std::vector<sl_sock_row> BpfMonitor::scan_lingering(Scan kind) {
  std::vector<sl_sock_row> rows;
  scan_lingering(kind, [&rows](std::span<const sl_sock_row> chunk) { rows.insert(rows.end(), chunk.begin(), chunk.end()); });
  return rows;
}

int BpfMonitor::on_scan_row(void* ctx, void* data, size_t size) {
  // A record of another size: this binary and its BPF object disagree (consume fails).
  if (size != sizeof(sl_sock_row)) return -EPROTO;
  auto* self = static_cast<BpfMonitor*>(ctx);
  sl_sock_row row{};
  std::memcpy(&row, data, sizeof row);
  // Nothing may unwind through libbpf's C frames: an exception is kept for drain_scan_ring.
  try {
    self->scan_rows_.push_back(row);
    if (self->scan_rows_.size() == kScanChunkRows && self->scan_sink_ != nullptr) {
      (*self->scan_sink_)(self->scan_rows_);
      self->scan_rows_.clear();
    }
  } catch (...) {
    self->scan_error_ = std::current_exception();
    return -ECANCELED;
  }
  return 0;
}

void BpfMonitor::drain_scan_ring(const RowSink* sink) {
  scan_sink_ = sink;
  scan_rows_.clear();
  const int err = ring_buffer__consume(scan_ring_.get());
  finish_scan_drain(err);
}

void BpfMonitor::finish_scan_drain(int err) {
  const RowSink* sink = std::exchange(scan_sink_, nullptr);
  if (scan_error_) std::rethrow_exception(std::exchange(scan_error_, nullptr));
  if (err < 0) {
    throw Error("scan ring buffer: " + (err == -EPROTO ? std::string("a record not the size of sl_sock_row: BPF "
                                                                     "object and binary disagree")
                                                       : errno_text(err)));
  }
  if (sink != nullptr && !scan_rows_.empty()) (*sink)(scan_rows_);
  scan_rows_.clear();
}

void BpfMonitor::run_scan_loop(const RowSink& sink) {
  ++scan_runs_;
  scan_sink_ = &sink;
  scan_rows_.clear();
  // While the run fills scan_rows, a second thread hands its rows on: a 100k-row scan is
  // 16 MB of rows, and a run that a full ring stops resumes by walking the map's head
  // again. This thread waits in the kernel meanwhile, so sink is called by one thread at a
  // time. Without that thread (none to be had, or no CPU for it) full rings end runs.
  std::optional<RingDrainer> drainer;
  if (drain_while_scanning_) {
    try {
      drainer.emplace(scan_ring_.get());
    } catch (const std::system_error&) {
    }
  }
  try {
    run_program(skel_->progs.scan_sockets_loop, "the socket map scan");
  } catch (...) {
    drainer.reset();
    scan_sink_ = nullptr;
    scan_error_ = nullptr;
    throw;
  }
  int err = drainer ? drainer->stop() : 0;
  if (err == 0 && !scan_error_) err = ring_buffer__consume(scan_ring_.get());
  finish_scan_drain(err);
}

void BpfMonitor::scan_by_loop(Scan kind, const RowSink& sink) {
  const bool all = kind == Scan::kAll;
  // A run walks the map from its first entry, whatever its slice: a walk in slices would
  // pass over the entries before each slice again (at 100k, about half the map per scan).
  // So scans of changes walk the whole map once every as many scans as a walk in slices
  // takes, and none between: each entry is still looked at once per such walk.
  if (!all && walked_once_) {
    // Nothing due since the last whole walk and no entry written since it began: no row
    // can come (a walk costs ~1.5 ms for the map's 262,144 buckets alone). Idle sockets
    // rechecked together are due together: a map of lingering sockets is walked once
    // per recheck period, not at every report.
    if (__atomic_load_n(&skel_->bss->entry_writes, __ATOMIC_ACQUIRE) == writes_at_walk_ &&
        monotonic_ns() < next_due_) {
      ++scans_passed_over_;
      return;
    }
    const uint64_t every = std::max<uint64_t>(1, (tracked_ + slice() - 1) / slice());
    if (++loop_scans_ % every != 0) return;
  }
  drain_scan_ring(nullptr);  // what a scan that failed midway left: not this scan's
  // Read before the walk: a write while it runs is one it may have missed.
  writes_at_walk_ = __atomic_load_n(&skel_->bss->entry_writes, __ATOMIC_ACQUIRE);
  next_due_ = 0;  // until this walk ends whole
  skel_->bss->scan_next_due = ~0ull;  // each run lowers it to the entries it left
  skel_->bss->scan_config.full = all ? 1 : 0;
  // Each run resumes at the key where the last one stopped, or at its place if that key
  // is gone; the first from the map's first entry.
  sl_scan_loop& run = skel_->bss->scan_loop;
  run.start = 0;
  run.resume_key = 0;
  uint64_t before_run = 0;
  for (;;) {
    // Runs of a bounded length: the kernel does not preempt a program run.
    run.budget = kLoopRunEntries;
    before_run = monotonic_ns();
    run_scan_loop(sink);
    const bool progress = run.scanned > 0 || run.stopped != SL_LOOP_FULL;
    if (run.stopped == SL_LOOP_ENDED) break;
    run.start = run.stopped_at;
    run.resume_key = run.next_key;
    if (!progress) throw Error("socket map scan: a run made no progress (a row larger than the scan ring?)");
  }
  tracked_ = run.seen;  // the map ended: a whole walk
  walked_once_ = true;
  // In this process's clock, read before the last run (so early rather than late): a time
  // namespace's offset would otherwise hold due entries back.
  const uint64_t due = skel_->bss->scan_next_due;
  const uint64_t kernel_now = skel_->bss->scan_run_now;
  next_due_ = due == ~0ull ? due : due <= kernel_now ? 0 : before_run + (due - kernel_now);
}

void BpfMonitor::scan_lingering(Scan kind, const RowSink& sink) {
  if (note_close_waits_) run_program(skel_->progs.settle_close_waits, "the settling of CLOSE_WAIT notes");
  if (!scan_link_) {
    scan_by_loop(kind, sink);
    return;
  }
  if (kind == Scan::kAll) {
    walk_ = UniqueFd();  // a walk in slices starts over afterwards
    skel_->bss->scan_config.full = 1;
    skel_->bss->scan_visited = 0;
    run_row_iterator(scan_link_.get(), "iter/bpf_map_elem scan", [&sink](std::span<const sl_sock_row> chunk) {
      std::vector<sl_sock_row> rows(chunk.begin(), chunk.end());
      sink(without_marks(std::move(rows)));
    });
    tracked_ = skel_->bss->scan_visited;
    walked_once_ = true;
    return;
  }
  skel_->bss->scan_config.full = 0;
  if (!walk_.valid()) {
    walk_ = UniqueFd(bpf_iter_create(bpf_link__fd(scan_link_.get())));
    if (!walk_.valid()) throw Error("start iter/bpf_map_elem scan: " + errno_text(errno));
    skel_->bss->scan_visited = 0;
  }
  // One row per read: the kernel stops the walk there until the next read, so a slice
  // ends at a mark without visiting further.
  std::vector<sl_sock_row> rows;
  const uint64_t slice_marks = slice() / SL_WALK_MARK;
  uint64_t marks = 0;
  while (marks < slice_marks) {
    sl_sock_row row{};
    const size_t n = read_iterator(walk_.get(), &row, sizeof row, "iter/bpf_map_elem scan");
    if (n == 0) {
      tracked_ = skel_->bss->scan_visited;
      walked_once_ = true;
      walk_ = UniqueFd();
      break;
    }
    if (n != sizeof row) {
      throw Error("iter/bpf_map_elem scan: " + std::to_string(n) + " bytes, not a " + std::to_string(sizeof row) +
                  "-byte row: BPF object and binary disagree on sl_sock_row");
    }
    if (row.flags & SL_ROW_WALK_MARK) {
      ++marks;
      continue;
    }
    rows.push_back(row);
  }
  sink(rows);
}

void BpfMonitor::begin_holder_walk(bool new_only, bool wanted_only) {
  ++skel_->bss->reconcile_generation;  // a new walk: threads claim their tables afresh
  skel_->bss->reconcile_new_only = new_only ? 1 : 0;
  skel_->bss->reconcile_wanted_only = wanted_only ? 1 : 0;
  skel_->bss->reconcile_named_table = 0;
  skel_->bss->reconcile_named_tgid = 0;
}

std::vector<sl_sock_row> BpfMonitor::read_holders(Holders kind) {
  std::vector<sl_sock_row> rows;
  read_holders(kind, [&rows](std::span<const sl_sock_row> chunk) { rows.insert(rows.end(), chunk.begin(), chunk.end()); });
  return rows;
}

void BpfMonitor::read_holders(Holders kind, const RowSink& sink) {
  begin_holder_walk(kind == Holders::kNew, false);
  run_row_iterator(holders_link_.get(), "iter/task_file reconcile", sink);
}

bool BpfMonitor::read_holders_of(std::span<const uint64_t> cookies, const RowSink& sink) {
  if (!features_.has(Feature::kSockFromFile) || cookies.size() > SL_MAX_WANTED) return false;
  std::vector<uint64_t> addresses;
  for (uint64_t cookie : cookies) {
    const std::optional<uint64_t> address = socket_address(cookie);
    if (!address) return false;
    addresses.push_back(*address);
  }
  return read_wanted(addresses, false, sink);
}

bool BpfMonitor::read_process_fds(const std::set<uint32_t>& tgids, const RowSink& sink) {
  if (!features_.has(Feature::kProcessFileWalk)) return false;
  begin_holder_walk(false, false);
  // Read whole, as one-shot reports do: an entry seeded or marked here would keep the socket
  // from the next reconcile of new sockets, which sends only sockets it adds.
  struct Set {
    uint32_t& flag;
    uint32_t was = flag;
    ~Set() { flag = was; }
  } read_only{skel_->bss->reconcile_read_only}, no_listeners{skel_->bss->reconcile_skip_listeners};
  read_only.flag = 1;
  no_listeners.flag = 1;  // nor are listeners sent, or their queues walked and seeded
  for (uint32_t tgid : tgids) {
    union bpf_iter_link_info info = {};
    info.task.pid = tgid;
    DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, opts);
    opts.link_info = &info;
    opts.link_info_len = sizeof info;
    std::unique_ptr<bpf_link, LinkDeleter> link(bpf_program__attach_iter(holders_program_, &opts));
    if (!link) return false;
    run_row_iterator(link.get(), "iter/task_file of one process", sink);
  }
  return true;
}

NewSockets BpfMonitor::new_sockets() const {
  const int cpus = libbpf_num_possible_cpus();
  std::vector<sl_new_socks> per_cpu(cpus > 0 ? static_cast<size_t>(cpus) : 1);
  const __u32 zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.new_socks), &zero, per_cpu.data()) != 0) return NewSockets();
  return NewSockets(std::move(per_cpu));
}

bool BpfMonitor::read_new_holders(std::span<const uint64_t> addresses, const RowSink& sink) {
  return read_wanted(addresses, true, sink);
}

bool BpfMonitor::read_wanted(std::span<const uint64_t> addresses, bool new_only, const RowSink& sink) {
  if (!features_.has(Feature::kSockFromFile) || addresses.size() > SL_MAX_WANTED) return false;
  const int wanted = bpf_map__fd(skel_->maps.wanted_socks);
  // Emptied again whatever happens to the walk: the next one asks for other sockets.
  struct Unwant {
    int map;
    std::span<const uint64_t> keys;
    std::span<__u64> filter;
    ~Unwant() {
      for (uint64_t key : keys) bpf_map_delete_elem(map, &key);
      std::fill(filter.begin(), filter.end(), 0);
    }
  } unwant{wanted, addresses, skel_->bss->wanted_filter};
  const uint8_t yes = 1;
  for (uint64_t address : addresses) {
    if (bpf_map_update_elem(wanted, &address, &yes, BPF_ANY) != 0) return false;
    const uint32_t slot = sl_wanted_slot(static_cast<uint32_t>(address));
    unwant.filter[slot / 64] |= __u64{1} << (slot % 64);
  }
  begin_holder_walk(new_only, true);
  run_row_iterator(holders_link_.get(), "iter/task_file reconcile", sink);
  skel_->bss->reconcile_wanted_only = 0;
  return true;
}

std::vector<sl_capturer> BpfMonitor::read_executables() {
  if (!executables_link_) return {};
  return decode_executables(run_iterator(executables_link_.get(), "iter/task executables"));
}

int BpfMonitor::on_event(void* ctx, void* data, size_t size) {
  auto* self = static_cast<BpfMonitor*>(ctx);
  // Nothing may unwind through libbpf's C frames: an exception is kept for poll_events.
  try {
    (*self->sink_)(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
  } catch (...) {
    self->event_error_ = std::current_exception();
    return -ECANCELED;
  }
  return 0;
}

void BpfMonitor::poll_events(std::chrono::milliseconds timeout, const EventBytes& sink) {
  sink_ = &sink;
  // Producers skip wakeups until 64 KiB are pending, so consume after every wait.
  int err = ring_buffer__poll(ring_.get(), static_cast<int>(timeout.count()));
  if (!event_error_ && (err >= 0 || err == -EINTR)) err = ring_buffer__consume(ring_.get());
  sink_ = nullptr;
  if (event_error_) std::rethrow_exception(std::exchange(event_error_, nullptr));
  if (err < 0 && err != -EINTR) throw Error("ring buffer: " + errno_text(err));
}

void BpfMonitor::wake_on(int fd) {
  // libbpf's poll reads an event's data.fd as the index of the ring that is ready: 0, the
  // only ring, which poll_events consumes anyway.
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = 0;
  if (epoll_ctl(ring_buffer__epoll_fd(ring_.get()), EPOLL_CTL_ADD, fd, &ev) != 0) {
    throw Error("epoll_ctl: " + errno_text(errno));
  }
}

void BpfMonitor::track_closes(bool on) {
  if (!bpf_program__autoload(skel_->progs.on_sys_enter) || on == tracking_closes()) return;
  if (!on) {
    close_link_.reset();
    return;
  }
  close_link_.reset(bpf_program__attach(skel_->progs.on_sys_enter));
  if (!close_link_) unsupported("attach tp_btf/sys_enter", errno);
}

KernelCounters BpfMonitor::counters() const {
  const int cpus = libbpf_num_possible_cpus();
  std::vector<__u64> per_cpu(cpus > 0 ? static_cast<size_t>(cpus) : 1);
  auto sum = [&](__u32 index) -> uint64_t {
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.counters), &index, per_cpu.data())) return 0;
    uint64_t total = 0;
    for (__u64 v : per_cpu) total += v;
    return total;
  };
  return {sum(SL_CNT_EVENTS_SENT), sum(SL_CNT_EVENTS_LOST), sum(SL_CNT_SOCKETS_FULL), sum(SL_CNT_ROWS_LOST),
          sum(SL_CNT_STALE_ENTRIES), sum(SL_CNT_STACKS_LOST), sum(SL_CNT_QUEUE_TRUNCATED),
          sum(SL_CNT_ESTABLISHED), sum(SL_CNT_HOLDER_FORKS)};
}

uint64_t BpfMonitor::slice() const {
  // The size of the last whole walk: a walk under way does not change its own pace.
  const uint64_t share = (tracked_ + scans_per_recheck_ - 1) / scans_per_recheck_;
  const uint64_t entries = std::max(scan_slice_, share);
  return (entries + SL_WALK_MARK - 1) / SL_WALK_MARK * SL_WALK_MARK;
}

uint64_t BpfMonitor::tracked_sockets() const {
  return walked_once_ ? tracked_ : skel_->bss->scan_visited;
}

BpfMonitor::AddressFilterReading BpfMonitor::read_address_filter() const {
  AddressFilterReading reading;
  const int filter = bpf_map__fd(skel_->maps.address_filter);
  const uint32_t slots = bpf_map__max_entries(skel_->maps.address_filter);
  std::vector<uint32_t> counts(slots);
  for (uint32_t slot = 0; slot < slots; ++slot) {
    bpf_map_lookup_elem(filter, &slot, &counts[slot]);
    reading.counted += counts[slot];
  }
  const int sockets = bpf_map__fd(skel_->maps.sockets);
  uint64_t key = 0;
  uint64_t next = 0;
  for (const uint64_t* prev = nullptr; bpf_map_get_next_key(sockets, prev, &next) == 0; prev = &key) {
    ++reading.entries;
    const uint32_t slot = slots == SL_ADDRESS_FILTER_SLOTS ? sl_address_slot(static_cast<uint32_t>(next)) : 0;
    if (counts[slot] == 0) ++reading.uncounted_entries;
    key = next;
  }
  return reading;
}

std::optional<uint64_t> BpfMonitor::socket_address(uint64_t cookie) const {
  sl_sock_entry entry{};
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.sockets), &cookie, &entry) != 0) return std::nullopt;
  return entry.sk;
}

std::vector<uint32_t> BpfMonitor::collect_unused_stacks() {
  const int stacks = bpf_map__fd(skel_->maps.stacks);
  const int refs = bpf_map__fd(skel_->maps.stack_refs);
  std::vector<uint32_t> unused;
  uint32_t key = 0;
  uint32_t next = 0;
  for (const uint32_t* prev = nullptr; bpf_map_get_next_key(stacks, prev, &next) == 0; prev = &key) {
    uint32_t count = 0;
    if (bpf_map_lookup_elem(refs, &next, &count) == 0 && count == 0) unused.push_back(next);
    key = next;
  }
  // Deleted after the walk: deleting while walking would restart get_next_key.
  std::vector<uint32_t> deleted;
  for (uint32_t id : unused) {
    if (bpf_map_delete_elem(stacks, &id) == 0) deleted.push_back(id);
  }
  return deleted;
}

std::vector<uint64_t> BpfMonitor::stack(uint32_t stack_id) const {
  std::vector<uint64_t> frames(SL_STACK_DEPTH);
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.stacks), &stack_id, frames.data()) != 0) return {};
  while (!frames.empty() && frames.back() == 0) frames.pop_back();
  return frames;
}

}  // namespace sockleak
