// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * sockleak kernel side.
 *
 * Per-socket state (owner, state, since) lives in the `sockets` hash keyed by
 * socket cookie, for the sockets that can linger only. A connection that opens and
 * closes within the thresholds costs one map entry (while it passes CLOSE_WAIT) and
 * nothing in userspace. Userspace learns about lingering sockets from two
 * iterators (scan_sockets over the map, every report interval; reconcile_holders
 * over every task's fds, which also adds held ESTABLISHED sockets to the map) and
 * receives ring-buffer events only for sockets it has been told about.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "sockleak_abi.h"
#include "sock_identity.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SL_E2BIG 7 /* map full */
#define SL_EEXIST 17
/* A state mismatch older than this is a missed transition, not one in flight. */
#define SL_HEAL_AFTER_NS 1000000000ull

/* x86-64 syscall numbers... */
#define SL_NR_CLOSE 3
#define SL_NR_CLOSE_RANGE 436
/* ...and those of 32-bit (ia32) callers, which mean other calls there: ia32's read is 3,
 * x86-64's lstat is 6. */
#define SL_NR32_CLOSE 6
/* thread_info.status flag of a task inside an ia32 syscall (arch/x86 TS_COMPAT). */
#define SL_TS_COMPAT 0x0002

/* Wake userspace only once this much is pending; it also polls on a timer. */
#define SL_WAKEUP_BYTES (64 * 1024)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct sl_sock_entry);
} sockets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Call sites: user stacks at connect()/accept(), deduplicated by the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, SL_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* Tracked sockets referring to each stack id; userspace deletes stacks nobody refers to. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
} stack_refs SEC(".maps");

/* `exec`: the watched process tree, by tgid (as sockleak's pid namespace sees it), valued
 * by process start (boottime ns) so that a reused pid is not taken for a watched one. The
 * fork hook adds every child of a watched process (and of watch_parent): a daemon
 * re-parented to init stays watched. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} watched SEC(".maps");

/* Processes holding reported sockets (tgid as sockleak's pid namespace sees it -> process
 * start), kept by userspace: a fork by one of them shares its sockets with the child,
 * which only a new reading of the fd tables shows (close() is not watched while every
 * reported socket has one holder). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_HOLDER_PROCESSES);
	__type(key, __u32);
	__type(value, __u64);
} holder_processes SEC(".maps");

/* `exec`: call sites already announced to userspace, by (stack id << 32 | tgid): one event
 * per call site and process, not one per connection of a command that churns. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} announced_sites SEC(".maps");

/* Set before load: `exec` watches one process tree (call sites and exit closes for it only). */
const volatile __u32 watch_tree = 0;
/* `exec`: sockleak itself while it forks the command, 0 otherwise: its child is the root. */
__u32 watch_parent = 0;

/* task_struct.flags: the task is exiting (its files are being closed by the exit). */
#define SL_PF_EXITING 0x00000004

/* Set before load: sockets entering CLOSE_WAIT are noted in close_waits and settled later
 * (kernels with bpf_loop, except `exec`, whose exit closes need every entry at once). */
const volatile __u32 note_close_waits = 0;
/* close_waits has 2^close_wait_slot_bits slots. */
const volatile __u32 close_wait_slot_bits = SL_CLOSE_WAIT_SLOT_BITS;
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_CLOSE_WAIT_SLOTS); /* set by userspace; 1 where nothing is noted */
	__type(key, __u32);
	__type(value, struct sl_close_wait_note);
} close_waits SEC(".maps");

/* Address identities only: how many map entries have an identity in each slot (by a hash of
 * the address). The state hook looks a socket up only if its slot counts one: short
 * connections, never in the map, then cost no lookup (a random bucket of a large hash,
 * a cache miss each) at birth nor at FIN. An entry is counted before its insert and
 * uncounted after its delete (atomic adds), so a slot never counts fewer than it has. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_ADDRESS_FILTER_SLOTS); /* 1 where sockets have cookies */
	__type(key, __u32);
	__type(value, __u32);
} address_filter SEC(".maps");

/* Set before load. 0: no call sites; N: capture one connect/accept in N (1 = all). */
const volatile __u32 stack_sample = 0;
/* Restrict capture to one process (0: any). */
const volatile __u32 stack_tgid = 0;

/* fd tables of processes whose leader exited alone (pthread_exit): the kernel's task_file
 * walk then visits the shared table once per thread. Key: files_struct address; value:
 * the reconcile generation and the thread that reads the table for it. */
struct sl_table_reader {
	__u64 generation;
	__u32 tid;
	__u32 _pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct sl_table_reader);
} table_readers SEC(".maps");

/* Bumped by userspace before every reconcile. */
__u64 reconcile_generation = 0;
/* Set by userspace before each reconcile: 0 sends every held socket (the fd tables' whole
 * truth); 1 only sockets whose holders userspace has not had (new in the map: seeded now,
 * or made by the state hook), plus listeners. */
__u32 reconcile_new_only = 0;
/* Set by userspace before each reconcile: 1 sends only the sockets in wanted_socks (and
 * unconnected ones: listeners, whose queues are walked); the others are passed over
 * before their struct sock is read. Needs bpf_sock_from_file. */
__u32 reconcile_wanted_only = 0;
/* The struct sock addresses of the sockets a wanted-only reconcile sends: lingering
 * sockets whose holders userspace has not read (written by userspace from their entries). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SL_MAX_WANTED);
	__type(key, __u64);
	__type(value, __u8);
} wanted_socks SEC(".maps");
/* Their filter: bit sl_wanted_slot() of each (written by userspace with the map, zeroed after). */
__u64 wanted_filter[SL_WANTED_FILTER_WORDS] = {};
/* Sockets that reached ESTABLISHED, per CPU: the state hook's runs on one CPU do not
 * overlap (kernels skip a nested run; where one did not, a slot may be lost, and its socket
 * waits for the next full reconcile). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sl_new_socks);
} new_socks SEC(".maps");
/* Set once by userspace for one-shot reports (snapshot, explain): held sockets are only
 * read, not added to the map (their rows say SL_ROW_UNTRACKED and carry what a scan would);
 * queued children still are, for the scan to find. */
__u32 reconcile_read_only = 0;
/* Set by userspace for walks of a few processes' fds (shared holders re-read): listeners
 * are neither sent nor their accept queues walked (they are for reconciles). */
__u32 reconcile_skip_listeners = 0;
/* The fd table and process whose name the reconcile sent last (reset by userspace per walk):
 * two processes may share a table (clone(CLONE_FILES) without CLONE_THREAD). */
__u64 reconcile_named_table = 0;
__u32 reconcile_named_tgid = 0;

/* The start-up clock sample (sample_clock writes it, userspace reads it). */
struct sl_clock_sample clock_sample = {};

/* Where the kernel refuses map-element iterators (an LSM or lockdown policy): a scan's rows,
 * written by scan_sockets_loop. Userspace drains it while a run fills it, and after. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 18);
} scan_rows SEC(".maps");

/* scan_sockets_loop's part of the walk (set by userspace) and how it went. */
struct sl_scan_loop scan_loop = {};

/* Written by userspace through the mmap'ed .bss before each scan. */
struct sl_scan_config scan_config = {};
/* Entries the last scan visited: the number of tracked sockets (each once, retries too). */
__u64 scan_visited = 0;
/* Writes that may leave an entry due before the time its last walk saw: every insert,
 * delete and replacement, and every state an entry takes outside a scan (atomic adds: a
 * walk of the map may be passed over only if none happened since the last one began). */
__u64 entry_writes = 0;
/* The earliest next_check_ns of the entries a walk by loop left (userspace sets it to
 * ~0 before a whole walk): until then, with no entry written, a walk has nothing to do. */
__u64 scan_next_due = 0;
/* The clock as the last run of a walk by loop read it (userspace's CLOCK_MONOTONIC may be
 * offset by a time namespace: it times scan_next_due from this). */
__u64 scan_run_now = 0;

static __always_inline void entry_written(void)
{
	__sync_fetch_and_add(&entry_writes, 1);
}

static __always_inline void count(__u32 which)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &which);

	if (value)
		*value += 1;
}

/* Sockets reach the map lazily, by reconciles: none is due while no connection reaches
 * ESTABLISHED, and one visits only the sockets noted here if few did. The slot, then its
 * count, then the counter that makes a reconcile due: on x86 (stores in program order) a
 * reader that sees a count has its slot; where a CPU reorders stores, a slot read stale
 * leaves its socket to the next full reconcile. */
static __always_inline void note_established(const struct sock *sk)
{
	__u32 zero = 0;
	struct sl_new_socks *news = bpf_map_lookup_elem(&new_socks, &zero);

	if (news) {
		news->sk[news->written & (SL_NEW_SLOTS - 1)] = (__u64)sk;
		news->written++;
	}
	count(SL_CNT_ESTABLISHED);
}

/* Sends ev; with wake, wakes userspace at once (else once SL_WAKEUP_BYTES are pending). */
static __always_inline void emit_now(const struct sl_event *ev, bool wake)
{
	struct sl_event *slot = bpf_ringbuf_reserve(&events, sizeof(*slot), 0);

	if (!slot) {
		count(SL_CNT_EVENTS_LOST);
		return;
	}
	*slot = *ev;
	__u64 flags = wake || bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= SL_WAKEUP_BYTES
			      ? BPF_RB_FORCE_WAKEUP
			      : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(slot, flags);
	count(SL_CNT_EVENTS_SENT);
}

static __always_inline void emit(const struct sl_event *ev)
{
	emit_now(ev, false);
}

static __always_inline bool is_watched(__u32 tgid, __u64 start)
{
	__u64 *known = bpf_map_lookup_elem(&watched, &tgid);

	return known && *known == start;
}

/* `exec`: userspace reads the capturer's mappings at once, while it runs; once per call
 * site and process. */
static __always_inline void announce_call_site(__u32 tgid, __u64 start, __u32 stack_id)
{
	__u64 site = (__u64)stack_id << 32 | tgid;
	__u8 yes = 1;

	if (bpf_map_lookup_elem(&announced_sites, &site))
		return;
	bpf_map_update_elem(&announced_sites, &site, &yes, BPF_ANY);
	struct sl_event ev = {
		.ts_ns = bpf_ktime_get_ns(),
		.kind = SL_EV_CALL_SITE,
		.tgid = tgid,
		.proc_start = start,
		.stack_id = stack_id,
	};
	emit_now(&ev, true);
}

/* The low half of a socket's address, as a number. The verifier allows no arithmetic on a
 * pointer to a socket, but lets a privileged program copy its low 32 bits (a 32-bit move),
 * and the low half of a slab address is as good as the whole for a hash. */
static __always_inline __u32 sl_low_half(__u64 address)
{
	__u64 low;

	asm volatile("r0 = %[address]\n\tw0 = w0\n\t%[low] = r0" : [low] "=r"(low) : [address] "r"(address) : "r0");
	return (__u32)low;
}

/* Whether a socket's call site is sampled (one in stack_sample): decided by its address,
 * fixed for its life, so the hooks that may capture it agree without a map lookup or a
 * read of anything but the pointer (the read hook runs at every TCP read on the host).
 * Fibonacci hashing of the low half spreads the slab's regular strides. */
static __always_inline bool sampled(const struct sock *sk)
{
	if (stack_sample <= 1)
		return true;
	return sl_sample_hash(sl_low_half((__u64)sk)) % stack_sample == 0;
}

/* The caller's user stack, for a sampled socket it creates or reads: process context only. */
static __always_inline __u32 call_site(void *ctx, __u32 tgid)
{
	if (!stack_sample || (stack_tgid && stack_tgid != tgid))
		return SL_NO_STACK;
	__u64 start = watch_tree ? sl_task_start(sl_current_task()) : 0;

	if (watch_tree && !is_watched(tgid, start))
		return SL_NO_STACK;
	long id = bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);

	if (id < 0) {
		count(SL_CNT_STACKS_LOST);
		return SL_NO_STACK;
	}
	__u32 key = (__u32)id;
	__u32 *refs = bpf_map_lookup_elem(&stack_refs, &key);

	if (!refs)
		return key;
	if (watch_tree)
		announce_call_site(tgid, start, key);
	__sync_fetch_and_add(refs, 1);
	return key;
}

/* A tracked socket referring to this call site is gone. */
static __always_inline void release_stack(__u32 stack_id)
{
	if (stack_id == SL_NO_STACK)
		return;
	__u32 *refs = bpf_map_lookup_elem(&stack_refs, &stack_id);

	if (refs && *refs)
		__sync_fetch_and_add(refs, (__u32)-1); /* no atomic sub before -mcpu=v3 */
}


/* The address filter's count of identity id (NULL with cookies: no filter). */
static __always_inline __u32 *address_count(__u64 id)
{
	if (use_socket_cookies)
		return NULL;
	__u32 slot = sl_address_slot(sl_low_half(id));

	return bpf_map_lookup_elem(&address_filter, &slot);
}

static __always_inline void count_address(__u64 id, int change)
{
	__u32 *count = address_count(id);

	if (count)
		__sync_fetch_and_add(count, change);
}

/* Whether the map may have an entry for id: always with cookies (a socket without one is
 * passed over before any lookup), else if id's slot counts an entry. */
static __always_inline bool may_be_in_map(__u64 id)
{
	__u32 *count = address_count(id);

	return !count || *(volatile __u32 *)count;
}

/* Removes a socket's entry. The state hook and a scan may both try: only the one whose
 * delete succeeds releases the call site, so it is released exactly once. */
static __always_inline void forget(__u64 cookie, const struct sl_sock_entry *entry)
{
	__u32 stack_id = entry->stack_id;

	if (bpf_map_delete_elem(&sockets, &cookie) == 0) {
		count_address(cookie, -1);
		entry_written();  /* a walk resuming by place may pass over the entry after it */
		release_stack(stack_id);
	}
}

/* The map holds only sockets that can linger: CLOSE_WAIT ones (noted on entering it,
 * settled before the next scan), ESTABLISHED ones a reconcile found held by a process, and,
 * with call sites on, sockets whose connect()/accept() stack was captured. A short
 * connection therefore only looks the map up (one side passes CLOSE_WAIT: a note, cleared
 * as it leaves) and is otherwise filtered by its states alone. */
static __always_inline bool may_be_tracked(int oldstate)
{
	return oldstate == TCP_ESTABLISHED || oldstate == TCP_CLOSE_WAIT ||
	       (stack_sample && oldstate == TCP_SYN_SENT);
}

/* Adds a socket's entry (the only insert into the map). */
static __always_inline long track(__u64 cookie, const struct sl_sock_entry *entry)
{
	count_address(cookie, 1);
	long err = bpf_map_update_elem(&sockets, &cookie, entry, BPF_NOEXIST);

	if (err)
		count_address(cookie, -1);
	else
		entry_written();
	if (err == -SL_E2BIG)
		count(SL_CNT_SOCKETS_FULL);
	return err;
}

/* A socket that entered CLOSE_WAIT at since_ns, added to the map. Already there: added by a
 * reconcile (that read it as ESTABLISHED, or with a bound for its age) or settled from an
 * earlier note of a socket at the same address (whose CLOSE_WAIT began earlier): the
 * latest entry into the state is this socket's. */
static __always_inline void track_close_wait(__u64 id, __u64 sk, __u64 since_ns)
{
	struct sl_sock_entry fresh = {
		.sk = sk,
		.since_ns = since_ns,
		.state = TCP_CLOSE_WAIT,
		.stack_id = SL_NO_STACK,
		.next_check_ns = since_ns + scan_config.close_wait_ns,
	};

	if (track(id, &fresh) != -SL_EEXIST)
		return;
	struct sl_sock_entry *known = bpf_map_lookup_elem(&sockets, &id);

	if (known && (known->state != TCP_CLOSE_WAIT || known->since_lower || known->since_ns < since_ns)) {
		known->state = TCP_CLOSE_WAIT;
		known->since_ns = since_ns;
		known->since_lower = 0;
		known->reported = 0;
		known->next_check_ns = fresh.next_check_ns;
		entry_written();
	}
}

/* A note read whole: its socket last (the hook writes it last), and again after the rest,
 * so that a note being written over is not read half old, half new. False: being written. */
static __always_inline bool read_close_wait(struct sl_close_wait_note *note, struct sl_close_wait_note *out)
{
	out->sk = *(volatile __u64 *)&note->sk;
	out->id = *(volatile __u64 *)&note->id;
	out->since_ns = *(volatile __u64 *)&note->since_ns;
	return out->sk == *(volatile __u64 *)&note->sk;
}

/* A noted socket that is still the one noted and still in CLOSE_WAIT, added to the map;
 * one that left the state (or whose memory is another socket's now) is passed over. False
 * only for a note just written: the hook runs before the kernel stores the new state, so
 * the socket may still read ESTABLISHED (or SYN_RECV: a Fast Open child) for a moment. */
static __always_inline bool settle_close_wait(const struct sl_close_wait_note *note, __u64 now)
{
	const struct sock *s = (const struct sock *)note->sk;

	if (!note->sk || sl_read_sock_id(s) != note->id)
		return true;
	__u32 state = BPF_CORE_READ(s, __sk_common.skc_state);

	if (state == TCP_CLOSE_WAIT) {
		track_close_wait(note->id, note->sk, note->since_ns);
		return true;
	}
	return !((state == TCP_ESTABLISHED || state == TCP_SYN_RECV) && now < note->since_ns + SL_HEAL_AFTER_NS);
}

/* The slot of a socket's note, by the hash of its addresses and ports (kept while it is
 * connected; the verifier does no arithmetic on the socket's own address). */
static __always_inline struct sl_close_wait_note *close_wait_slot(const struct sock *sk)
{
	__u32 slot = (sk->__sk_common.skc_hash * 0x9E3779B9u) >> (32 - close_wait_slot_bits);

	return bpf_map_lookup_elem(&close_waits, &slot);
}

/* The state hook's note of a socket entering CLOSE_WAIT. Another socket's note in its slot
 * is settled first, so nothing is lost however long userspace waits. Two CPUs writing one
 * slot at once (two sockets entering CLOSE_WAIT together, into one slot) may lose
 * a note: its socket waits for a reconcile, which reads it with a bound for its age. */
static __always_inline void note_close_wait(__u64 id, const struct sock *sk, __u64 now)
{
	struct sl_close_wait_note *note = close_wait_slot(sk);

	if (!note) {
		track_close_wait(id, (__u64)sk, now);
		return;
	}
	if (note->sk && note->sk != (__u64)sk) {
		struct sl_close_wait_note other = *note;

		settle_close_wait(&other, now);
	}
	note->id = id;
	note->since_ns = now;
	note->sk = (__u64)sk;
}

/* A socket left CLOSE_WAIT before its note was settled: its slot is free again. */
static __always_inline void forget_close_wait(const struct sock *sk)
{
	struct sl_close_wait_note *note = close_wait_slot(sk);

	if (note && note->sk == (__u64)sk)
		note->sk = 0;
}

/* A process and the executable file it runs, read the same way at capture and by the
 * list_executables iterator, so userspace compares like with like (overlayfs included). */
static __always_inline void process_executable(struct task_struct *task, struct sl_capturer *out)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	struct inode *exe = BPF_CORE_READ(mm, exe_file, f_inode);

	/* Randomized at every exec, kept by fork: the same file mapped at other addresses
	 * (re-exec, fork+exec) must not lend its names. */
	out->layout = BPF_CORE_READ(mm, start_code) ^ BPF_CORE_READ(mm, mmap_base);
	out->tgid = sl_task_tgid(task);
	out->start = sl_task_start(task);
	out->exe_ino = BPF_CORE_READ(exe, i_ino);
	out->exe_dev = BPF_CORE_READ(exe, i_sb, s_dev);
}

/* The current process as the capturer of a call site: names for it come from its
 * mappings, or from a holder running the same executable file. */
static __always_inline void current_capturer(struct sl_capturer *capturer)
{
	process_executable(sl_current_task(), capturer);
}

/* A socket created or read by the current process, tracked for its call site (or, with
 * SL_NO_STACK, for a capture that failed: not to be tried again). */
static __always_inline void track_call_site(__u64 cookie, const struct sock *sk, __u32 state, __u32 tgid,
					    __u32 stack_id)
{
	struct sl_sock_entry fresh = {
		.sk = (__u64)sk,
		.since_ns = bpf_ktime_get_ns(),
		.owner_tgid = tgid,
		.state = state,
		.site_tried = 1,
		.stack_id = stack_id,
	};
	if (stack_id != SL_NO_STACK) {
		current_capturer(&fresh.capturer);
		fresh.proc_start = fresh.capturer.start;
	} else {
		fresh.proc_start = sl_task_start(sl_current_task());  /* the reader owns it */
	}
	/* Not tracked (map full, or a softirq added it meanwhile): nobody holds the stack. */
	if (track(cookie, &fresh))
		release_stack(stack_id);
}

/* connect() with call sites on: process context (socket lock owned), so current is the
 * owner. Softirq transitions never name an owner: current is whoever was interrupted. */
static __always_inline void on_connect(void *ctx, const struct sock *sk)
{
	if (!sk->sk_lock.owned || !sampled(sk))
		return;
	__u32 tgid = sl_current_tgid();
	__u32 stack_id = call_site(ctx, tgid);

	if (stack_id != SL_NO_STACK)
		track_call_site(sl_sock_id((struct sock *)sk), sk, TCP_SYN_SENT, tgid, stack_id);
}

/* A socket born at an address an older socket had (TCP sockets are slab objects, reused
 * at once). With address identities an entry left there by a race with a reconcile must
 * not be inherited: births (connect() from CLOSE, a child created SYN_RECV from its
 * listener) forget whatever the address held. The reconcile holds the file, so its insert
 * always precedes the old socket's free and so this birth. */
static __always_inline void forget_address(const struct sock *sk)
{
	__u64 id = (__u64)sk;

	if (!may_be_in_map(id))
		return;
	struct sl_sock_entry *stale = bpf_map_lookup_elem(&sockets, &id);

	if (stale)
		forget(id, stale);
}

/* `exec`: a CLOSE_WAIT socket closed by its holder's exit (process context: the exit's
 * close of its files holds the socket lock) in a watched process: never closed by the
 * program. Sent whole, as a scan would read it: userspace may never have seen it. */
static __always_inline void report_exit_close(const struct sock *sk, __u64 cookie, const struct sl_sock_entry *entry)
{
	struct task_struct *task = sl_current_task();

	if (!sk->sk_lock.owned || !(BPF_CORE_READ(task, flags) & SL_PF_EXITING))
		return;
	__u32 tgid = sl_task_tgid(task);
	__u64 start = sl_task_start(task);

	if (!tgid || !is_watched(tgid, start))
		return;
	struct sl_exit_close *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);

	if (!rec) {
		count(SL_CNT_EVENTS_LOST);
		return;
	}
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->head.ts_ns = bpf_ktime_get_ns();
	rec->head.cookie = cookie;
	rec->head.kind = SL_EV_EXIT_CLOSE;
	rec->head.tgid = tgid;
	rec->head.proc_start = start;
	rec->head.stack_id = entry->stack_id;
	rec->row.cookie = cookie;
	rec->row.since_ns = entry->since_ns;
	rec->row.proc_start = start;
	rec->row.tgid = tgid;
	rec->row.fd = ~0u;
	rec->row.state = TCP_CLOSE_WAIT;
	rec->row.flags = entry->since_lower ? SL_ROW_SINCE_LOWER : 0;
	rec->row.stack_id = entry->stack_id;
	rec->row.capturer = entry->capturer;
	sl_fill_endpoints(&rec->row, sk);
	bpf_get_current_comm(rec->row.comm, sizeof(rec->row.comm));
	bpf_ringbuf_submit(rec, 0);
	count(SL_CNT_EVENTS_SENT);
}

/* Every fork on the host (threads are their process): counted when the parent holds
 * reported sockets; under `exec`, children of watched processes are watched. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	if (child->pid != child->tgid)
		return 0;
	__u32 parent_tgid = sl_task_tgid(parent);

	if (!parent_tgid)
		return 0;
	__u64 parent_start = sl_task_start(parent);
	__u64 *holder = bpf_map_lookup_elem(&holder_processes, &parent_tgid);

	if (holder && *holder == parent_start)
		count(SL_CNT_HOLDER_FORKS);
	if (!watch_tree || (parent_tgid != watch_parent && !is_watched(parent_tgid, parent_start)))
		return 0;
	__u32 tgid = sl_task_tgid(child);
	__u64 start = sl_task_start(child);

	if (tgid)
		bpf_map_update_elem(&watched, &tgid, &start, BPF_ANY);
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_change, const struct sock *sk, int oldstate, int newstate)
{
	/* Every TCP state change on the host passes here: decide on the states first. */
	if (newstate == TCP_ESTABLISHED)
		note_established(sk);
	if (!may_be_tracked(oldstate) && newstate != TCP_CLOSE_WAIT) {
		bool born = oldstate == TCP_CLOSE || newstate == TCP_SYN_RECV;

		if ((!stack_sample && (use_socket_cookies || !born)) || !sl_is_tcp_btf(sk))
			return 0;
		if (born && !use_socket_cookies)
			forget_address(sk);
		if (!stack_sample)
			return 0;
		if (newstate == TCP_SYN_SENT)
			on_connect(ctx, sk);
		return 0;
	}
	if (!sl_is_tcp_btf(sk))
		return 0;

	/* Adding a socket to the map assigns its cookie, so a socket without one is not in
	 * it: no lookup (a random bucket of a large hash, a cache miss) for most sockets. */
	__u64 cookie = sl_assigned_sock_id(sk);
	struct sl_sock_entry *entry = cookie && may_be_in_map(cookie) ? bpf_map_lookup_elem(&sockets, &cookie) : NULL;

	if (!entry) {
		if (newstate == TCP_CLOSE_WAIT) {
			/* Assigned here: the socket's later transitions look it up by it. */
			if (!cookie)
				cookie = sl_sock_id((struct sock *)sk);
			/* A reconcile on another CPU may have added it as ESTABLISHED between the
			 * lookup and here (it read the state before this transition): the entry is
			 * then this socket's, and it entered CLOSE_WAIT now (track_close_wait). */
			if (note_close_waits)
				note_close_wait(cookie, sk, bpf_ktime_get_ns());
			else
				track_close_wait(cookie, (__u64)sk, bpf_ktime_get_ns());
		} else if (note_close_waits && oldstate == TCP_CLOSE_WAIT) {
			forget_close_wait(sk);
		}
		return 0;
	}

	__u64 now = bpf_ktime_get_ns();

	if (entry->announced) {
		struct sl_event ev = {
			.ts_ns = now,
			.cookie = cookie,
			.kind = SL_EV_STATE,
			.tgid = entry->owner_tgid,
			.proc_start = entry->proc_start,
			.old_state = oldstate,
			.new_state = newstate,
		};
		emit(&ev);
	}
	if (newstate != TCP_ESTABLISHED && newstate != TCP_CLOSE_WAIT) {
		/* Leaving the states that linger (closing, or a failed connect): forget it. */
		if (watch_tree && oldstate == TCP_CLOSE_WAIT)
			report_exit_close(sk, cookie, entry);
		/* Added by a reconcile before its note was settled: the note goes too. */
		if (note_close_waits && oldstate == TCP_CLOSE_WAIT)
			forget_close_wait(sk);
		forget(cookie, entry);
		return 0;
	}
	entry->state = newstate;
	entry->since_ns = now;
	entry->since_lower = 0;
	/* Userspace dropped it on the event (when announced): the next scan due reports it
	 * afresh if it lingers in its new state. */
	entry->reported = 0;
	entry->next_check_ns = now + (newstate == TCP_CLOSE_WAIT ? scan_config.close_wait_ns
								 : scan_config.established_idle_ms * 1000000ull);
	entry_written();
	return 0;
}

/* close(fd) of a tracked socket: an announced socket's holder changes are sent;
 * otherwise a close by the owner makes the owner unknown (a fork or dup may
 * still hold it), to be resolved by the next reconcile if it ever lingers. */
static __always_inline void on_close(__u32 fd)
{
	struct file *file = sl_current_fd_file(fd);
	struct sock *sk = file ? sl_file_tcp_sock(file) : NULL;

	if (!sk)
		return;
	__u64 cookie = sl_read_sock_id(sk);
	/* No cookie (or an address no entry has): not in the map. */
	struct sl_sock_entry *entry = cookie && may_be_in_map(cookie) ? bpf_map_lookup_elem(&sockets, &cookie) : NULL;

	if (!entry)
		return;
	__u32 tgid = sl_current_tgid();

	if (entry->announced) {
		struct sl_event ev = {
			.ts_ns = bpf_ktime_get_ns(),
			.cookie = cookie,
			.kind = SL_EV_FD_CLOSE,
			.tgid = tgid,
			.proc_start = sl_task_start(sl_current_task()),
			.fd_first = fd,
			/* Userspace checks /proc/PID/fd for it: the process may hold the socket
			 * through another fd (a dup the events never saw). */
			.inode = (__u32)BPF_CORE_READ(file, f_inode, i_ino),
		};
		emit(&ev);
	}
	if (entry->owner_tgid == tgid)
		entry->owner_tgid = 0;
}

/* Whether the current syscall came from a 32-bit (ia32) caller: its number and arguments
 * follow the ia32 table and registers (ebx, ecx, ...). */
static __always_inline bool in_ia32_syscall(void)
{
	return BPF_CORE_READ(sl_current_task(), thread_info.status) & SL_TS_COMPAT;
}

/* Attached by userspace only while it reports lingering sockets: the hook puts every
 * syscall on the host through the tracepoint path, which short connections should not pay. */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	/* Every syscall on the host passes here: compare the id before anything else; only the
	 * few candidates pay for the ia32 check. */
	if (id != SL_NR_CLOSE && id != SL_NR32_CLOSE && id != SL_NR_CLOSE_RANGE)
		return 0;
	bool ia32 = in_ia32_syscall();

	if (id == SL_NR_CLOSE_RANGE) {
		struct sl_event ev = {
			.ts_ns = bpf_ktime_get_ns(),
			.kind = SL_EV_CLOSE_RANGE,
			.tgid = sl_current_tgid(),
			.proc_start = sl_task_start(sl_current_task()),
			.fd_first = (__u32)(ia32 ? regs->bx : regs->di),
			.fd_last = (__u32)(ia32 ? regs->cx : regs->si),
		};
		emit(&ev);
	} else if (ia32 == (id == SL_NR32_CLOSE)) {
		on_close((__u32)(ia32 ? regs->bx : regs->di));
	}
	return 0;
}

/* A TCP read by a process that holds the socket (lock owned: process context; loaded with
 * call sites on, but for `exec`). The first read of a sampled socket without a call site
 * names it: accepted sockets, which no hook that only sockets pay sees at accept(), and
 * sockets older than sockleak. Unlike a syscall hook it costs nothing to other syscalls,
 * and unsampled reads leave before any map lookup. */
SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(on_read, struct sock *sk)
{
	if (!sk->sk_lock.owned || !sampled(sk))
		return 0;
	__u32 tgid = sl_current_tgid();

	/* --pid: other processes' reads cost no lookup. */
	if (stack_tgid && stack_tgid != tgid)
		return 0;
	__u32 state = sk->__sk_common.skc_state;

	if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT)
		return 0;
	__u64 cookie = sl_sock_id(sk);
	struct sl_sock_entry *entry = may_be_in_map(cookie) ? bpf_map_lookup_elem(&sockets, &cookie) : NULL;

	/* A noted CLOSE_WAIT socket (a request that came with its FIN, read first now): settled
	 * here, so that its call site is named like any other's. */
	if (!entry && state == TCP_CLOSE_WAIT && note_close_waits) {
		struct sl_close_wait_note *note = close_wait_slot(sk);

		if (note && note->sk == (__u64)sk) {
			track_close_wait(note->id, (__u64)sk, note->since_ns);
			note->sk = 0;
			entry = bpf_map_lookup_elem(&sockets, &cookie);
		}
	}
	if (entry ? entry->stack_id != SL_NO_STACK || entry->site_tried : state != TCP_ESTABLISHED)
		return 0;  /* named, tried, or a CLOSE_WAIT socket no hook saw enter it (its age unknown) */
	/* Kernel threads (NFS, kTLS workers) have no user stack to name. */
	if (!BPF_CORE_READ(sl_current_task(), mm))
		return 0;
	__u32 stack_id = call_site(ctx, tgid);

	if (stack_id == SL_NO_STACK) {
		/* Not captured (stack map full, or a collision; counted as lost): a socket read
		 * often would otherwise walk its reader's stack at every read. A byte written
		 * into the entry: at worst into another socket's, if this one closed and the
		 * element was reused meanwhile, which then is not named at a read. */
		if (entry)
			entry->site_tried = 1;
		else
			track_call_site(cookie, sk, state, tgid, SL_NO_STACK);
		return 0;
	}
	if (entry) {
		/* Replace the entry, never write into it: the state hook may delete it meanwhile
		 * (another thread closed the socket), and a freed element can be reused at once
		 * (6.1+) for another socket's entry. BPF_EXIST fails if it is gone, and the stack
		 * reference goes back. A delete that read the old element's (empty) stack id just
		 * before this replace still keeps one stack until sockleak exits: bounded by the
		 * stack map (16,384; failed captures are counted in call_sites.lost); closing it
		 * needs compare-and-swap (5.12+). */
		struct sl_sock_entry next = *entry;

		current_capturer(&next.capturer);
		next.owner_tgid = tgid;
		next.proc_start = next.capturer.start;
		next.stack_id = stack_id;
		if (bpf_map_update_elem(&sockets, &cookie, &next, BPF_EXIST))
			release_stack(stack_id);
		else
			entry_written();  /* a new element: a walk under way may see neither */
		return 0;
	}
	track_call_site(cookie, sk, state, tgid, stack_id);
	return 0;
}

static __always_inline bool lingers(__u32 state, __u64 since_ns, __u64 idle_ms, __u64 now)
{
	if (state == TCP_CLOSE_WAIT)
		return now >= since_ns + scan_config.close_wait_ns;
	if (state == TCP_ESTABLISHED)
		return idle_ms >= scan_config.established_idle_ms;
	return false;
}

/* The earliest time a socket that does not linger now could: CLOSE_WAIT ones at a known
 * age; idle time grows no faster than the clock (data resets it); other states (a connect
 * in flight, a state being stored) at the next scan. */
static __always_inline __u64 lingers_not_before(__u32 state, __u64 since_ns, __u64 idle_ms, __u64 now)
{
	if (state == TCP_CLOSE_WAIT)
		return since_ns + scan_config.close_wait_ns;
	if (state == TCP_ESTABLISHED && idle_ms < scan_config.established_idle_ms)
		return now + (scan_config.established_idle_ms - idle_ms) * 1000000ull;
	return 0;
}

/* A full seq buffer is no loss: the kernel drops this object's partial output and runs the
 * program for the same object again at the next read (so everything a program does per
 * object must be idempotent, or keyed by meta->seq_num: scans change an entry only after
 * its row was written). */
static __always_inline long write_row(struct seq_file *seq, struct sl_sock_row *row)
{
	return bpf_seq_write(seq, row, sizeof(*row));
}

/* A scan's row: into the iterator's seq_file, or (to_ring: scan_sockets_loop) into
 * scan_rows. Non-zero when it did not fit. Always inlined with a constant seq or not, so
 * that each program keeps one branch: iterators may not use scan_rows (not created where
 * they load), and the loop may not call bpf_seq_write. */
static __always_inline long put_row(struct seq_file *seq, bool to_ring, struct sl_sock_row *row)
{
	if (!to_ring)
		return write_row(seq, row);
	return bpf_ringbuf_output(&scan_rows, row, sizeof(*row), BPF_RB_NO_WAKEUP);
}

/* Tells userspace that a socket an earlier scan reported no longer lingers. False when the
 * row did not fit: the kernel runs the program for this entry again. */
static __always_inline bool retire(struct seq_file *seq, bool to_ring, __u64 cookie, struct sl_sock_entry *entry)
{
	if (!entry->reported)
		return true;
	struct sl_sock_row row = {.cookie = cookie, .fd = ~0u, .flags = SL_ROW_RETIRED, .stack_id = SL_NO_STACK};

	if (put_row(seq, to_ring, &row))
		return false;
	entry->reported = 0;
	return true;
}

/* A reported idle socket re-read after recheck_ns: spread over the period (by identity),
 * so that sockets reported together are not all re-read by one later scan. */
static __always_inline __u64 first_recheck(__u64 cookie, __u64 now)
{
	__u64 quarter = scan_config.recheck_ns / 4 + 1;

	return now + 3 * quarter + ((cookie * 0x9E3779B97F4A7C15ull) >> 32) % quarter;
}

/* sl_sock_entry.reported */
#define SL_REPORTED 1
#define SL_REPORTED_QUEUED 2 /* reported while in its listener's accept queue */

/* SL_SCAN_FULL: a scan row did not fit (its entry is unchanged: the walk resumes there). */
#define SL_SCAN_FULL 1

/* Every report interval: the tracked sockets whose lingering changed (scan_config). Most
 * entries are passed over on their next_check_ns alone, without reading the socket. One
 * entry, at `place` in the walk; rows into seq (the iterator), or scan_rows (to_ring).
 * `now` is the clock when the entry's scan began (the iterator), or its run (the loop: a
 * read per entry was a twentieth of a walk's cost in a VM), so it may be a little older
 * than the entry's last change: comparisons with since_ns add to it rather than subtract
 * from now. Idle time comes from the tick counter, read afresh. */
static __always_inline int scan_entry(struct seq_file *seq, bool to_ring, __u64 place, __u64 cookie,
				      struct sl_sock_entry *entry, __u64 now)
{
	if (!to_ring && place % SL_WALK_MARK == 0 && place) {
		struct sl_sock_row mark = {.fd = ~0u, .flags = SL_ROW_WALK_MARK, .stack_id = SL_NO_STACK};

		if (write_row(seq, &mark))
			return SL_SCAN_FULL;
	}
	bool full = scan_config.full;

	if (!full && now < entry->next_check_ns)
		return 0;
	const struct sock *sk = (const struct sock *)entry->sk;

	/* The recheck of a reported idle socket (at 100k idle sockets, 10k of them per scan):
	 * its data mark alone, one cache line. No data since it was reported: still idle, and
	 * longer (a threshold changed by a reload comes with a full scan). Identity, state and
	 * acceptance need no reading: the state hook updates or drops an announced entry at
	 * every transition, and an accepted socket never returns to a queue; full scans check
	 * everything. */
	if (!full && entry->reported == SL_REPORTED && entry->state == TCP_ESTABLISHED &&
	    sl_data_mark(sk) == entry->data_mark) {
		entry->next_check_ns = now + scan_config.recheck_ns;
		return 0;
	}

	/* The cookie proves the socket is still the one this entry was made for. An entry
	 * whose socket is gone without a TCP_CLOSE transition is removed here. */
	if (sl_read_sock_id(sk) != cookie) {
		if (!retire(seq, to_ring, cookie, entry))
			return SL_SCAN_FULL;
		forget(cookie, entry);
		count(SL_CNT_STALE_ENTRIES);
		return 0;
	}
	__u32 state = BPF_CORE_READ(sk, __sk_common.skc_state);

	/* A reconcile may add a socket just as it leaves ESTABLISHED: its later transitions
	 * are not looked up, so drop it here. */
	if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT && state != TCP_SYN_SENT) {
		if (!retire(seq, to_ring, cookie, entry))
			return SL_SCAN_FULL;
		forget(cookie, entry);
		return 0;
	}
	/* The mark first: data between the two reads then shows at the next recheck. */
	__u64 mark = sl_data_mark(sk);
	__u64 idle = sl_idle_ms(sk);

	/* The entry missed a transition (no path is known since the state hook takes over a
	 * reconcile's concurrent insert; kept as a guard): the socket is in `state` since some
	 * time before now, so its age from now is a lower bound. Never skipped for good. A
	 * fresh entry is left alone: the hook runs before the kernel stores the new state, so
	 * a scan may briefly read the old one. */
	if (state != entry->state && state != TCP_SYN_SENT && now > entry->since_ns + SL_HEAL_AFTER_NS) {
		if (!retire(seq, to_ring, cookie, entry))
			return SL_SCAN_FULL;
		entry->state = state;
		entry->since_ns = now;
		entry->since_lower = 1;
	}
	if (state != entry->state)
		return 0;
	if (!lingers(state, entry->since_ns, idle, now)) {
		if (!retire(seq, to_ring, cookie, entry))
			return SL_SCAN_FULL;
		entry->next_check_ns = lingers_not_before(state, entry->since_ns, idle, now);
		return 0;
	}
	/* No struct socket: still in its listener's accept queue (accept() grafts one; sockets
	 * a process closed are orphans in neither ESTABLISHED nor CLOSE_WAIT). */
	bool queued = !BPF_CORE_READ(sk, sk_socket);

	if (entry->reported && !full && queued == (entry->reported == SL_REPORTED_QUEUED)) {
		/* Still lingering: news only if an idle socket was active meanwhile (its idle
		 * time started again). */
		if (state == TCP_CLOSE_WAIT || mark == entry->data_mark) {
			entry->next_check_ns = queued ? 0 : now + scan_config.recheck_ns;
			return 0;
		}
	}

	struct sl_sock_row row = {
		.cookie = cookie,
		.since_ns = entry->since_ns,
		.idle_ms = idle,
		.proc_start = entry->proc_start,
		.tgid = entry->owner_tgid,
		.fd = ~0u,
		.state = state,
		.flags = entry->since_lower ? SL_ROW_SINCE_LOWER : 0,
		.stack_id = entry->stack_id,
		.capturer = entry->capturer,
	};
	if (queued) {
		row.flags |= SL_ROW_UNACCEPTED;
		row.listener = entry->listener;
	}
	sl_fill_endpoints(&row, sk);
	if (put_row(seq, to_ring, &row))
		return SL_SCAN_FULL;
	entry->announced = 1;
	entry->reported = queued ? SL_REPORTED_QUEUED : SL_REPORTED;
	entry->data_mark = mark;
	/* A reported CLOSE_WAIT socket changes only by its state events. An unaccepted one is
	 * read again at every scan: accept() gives it a holder without an event. */
	if (queued)
		entry->next_check_ns = 0;
	else
		entry->next_check_ns = state == TCP_CLOSE_WAIT ? ~0ull : first_recheck(cookie, now);
	return 0;
}

SEC("iter/bpf_map_elem")
int scan_sockets(struct bpf_iter__bpf_map_elem *ctx)
{
	__u64 *key = ctx->key;
	struct sl_sock_entry *entry = ctx->value;

	if (!key || !entry)
		return 0;
	/* seq_num: this object's place in the walk, the same when the kernel retries it. A
	 * row that did not fit needs nothing more: the kernel runs this entry again. */
	__u64 place = ctx->meta->seq_num;

	scan_visited = place + 1;
	scan_entry(ctx->meta->seq, false, place, *key, entry, bpf_ktime_get_ns());
	return 0;
}

/* scan_sockets_loop's walk: the run's settings and results (scan_loop), the clock at its
 * start, and whether it is still passing over the entries before its resume point. */
struct sl_scan_walk {
	struct sl_scan_loop run;
	__u64 now;
	__u64 next_due;  /* the earliest next_check_ns of the entries this run left */
	bool skipping;
};

static __always_inline long stop_walk(struct sl_scan_walk *walk, __u32 why, __u64 place, __u64 key)
{
	walk->run.stopped = why;
	walk->run.stopped_at = place;
	walk->run.next_key = key;
	return 1;
}

static long scan_step(struct bpf_map *map, __u64 *key, struct sl_sock_entry *entry, struct sl_scan_walk *walk)
{
	__u64 place = walk->run.seen++;

	if (walk->skipping) {
		if (place < walk->run.start && *key != walk->run.resume_key)
			return 0;
		walk->skipping = false;
	}
	if (walk->run.scanned >= walk->run.budget)
		return stop_walk(walk, SL_LOOP_BUDGET, place, *key);
	if (scan_entry(NULL, true, place, *key, entry, walk->now) == SL_SCAN_FULL)
		return stop_walk(walk, SL_LOOP_FULL, place, *key);
	walk->run.scanned++;
	/* Read back after the scan (an entry it forgot may still show a time: only earlier). */
	if (entry->next_check_ns < walk->next_due)
		walk->next_due = entry->next_check_ns;
	return 0;
}

/* The same scan where the kernel refuses map-element iterators: run on demand by userspace
 * (BPF_PROG_RUN), the map walked by bpf_for_each_map_elem() (5.13+), rows into scan_rows.
 * A run resumes where the last one stopped (scan_loop) and scans up to its budget of
 * entries: a bounded time without preemption. A full ring stops it at the entry that did
 * not fit; userspace drains the ring and runs it again from there. */
SEC("raw_tp")
int scan_sockets_loop(void *ctx)
{
	struct sl_scan_walk walk = {.run = scan_loop, .now = bpf_ktime_get_ns(), .next_due = ~0ull, .skipping = true};

	walk.run.seen = 0;
	walk.run.scanned = 0;
	walk.run.stopped = SL_LOOP_ENDED;
	bpf_for_each_map_elem(&sockets, scan_step, &walk, 0);
	scan_loop = walk.run;
	scan_visited = walk.run.seen;
	if (walk.next_due < scan_next_due)
		scan_next_due = walk.next_due;
	scan_run_now = walk.now;
	return 0;
}

static long settle_close_wait_step(__u32 index, void *ctx)
{
	struct sl_close_wait_note *note = bpf_map_lookup_elem(&close_waits, &index);
	struct sl_close_wait_note seen;

	if (!note)
		return 1;
	if (!note->sk || !read_close_wait(note, &seen))
		return 0;
	/* Freed unless the hook wrote another note there meanwhile (a narrow window, no
	 * compare-and-swap before -mcpu=v3: a note lost so waits for a reconcile, which reads
	 * its socket with a bound for its age). */
	if (settle_close_wait(&seen, *(__u64 *)ctx) && *(volatile __u64 *)&note->sk == seen.sk)
		note->sk = 0;
	return 0;
}

/* Before each scan (run on demand by userspace): the sockets noted entering CLOSE_WAIT
 * that have not left it, added to the map. */
SEC("raw_tp")
int settle_close_waits(void *ctx)
{
	__u64 now = bpf_ktime_get_ns();

	bpf_loop(1u << close_wait_slot_bits, settle_close_wait_step, &now, 0);
	return 0;
}

/* Whether this task's fd table is read through this task: each table once per reconcile. */
static __always_inline bool first_reader_of_table(struct task_struct *task)
{
	/* The kernel already skips threads sharing their leader's table. Any other thread's
	 * table (the leader exited alone, or threads that unshared theirs, maybe shared again
	 * by threads they started) is read through one thread per reconcile. */
	if (task->pid == task->tgid)
		return true;
	/* Some kernels' walks of one process (6.1 before a fix) visit such threads too. */
	if (task->files == task->group_leader->files)
		return false;
	__u64 files = (__u64)task->files;
	struct sl_table_reader *reader = bpf_map_lookup_elem(&table_readers, &files);

	if (reader && reader->generation == reconcile_generation)
		return reader->tid == (__u32)task->pid;
	struct sl_table_reader mine = {.generation = reconcile_generation, .tid = task->pid};

	bpf_map_update_elem(&table_readers, &files, &mine, BPF_ANY);
	return true;
}

/* A child in a listener's accept queue: the handshake completed and no process accepted it
 * (a server that stopped calling accept()). Seeded like a held socket found by a reconcile
 * (its age a lower bound) and tagged with its listener, whose holders it is reported under.
 * The tag written into an existing entry is read only while the socket has no struct
 * socket, so an entry freed and reused meanwhile for an accepted socket never uses it.
 *
 * A global function: the verifier checks it once, not once per child of an unrolled walk
 * (whose pending branches would exceed its limit long before SL_MAX_QUEUED). So it takes
 * plain numbers: the socket's address (read with probe reads) and its identity, which the
 * caller assigned through a BTF pointer. */
__noinline int sl_seed_queued(__u64 child, __u64 id, __u64 listener)
{
	const struct sock *sk = (const struct sock *)child;
	__u32 state = BPF_CORE_READ(sk, __sk_common.skc_state);

	if (!child || !id || (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT))
		return 0;
	struct sl_sock_entry *entry = bpf_map_lookup_elem(&sockets, &id);

	if (entry) {
		entry->listener = listener;
		return 0;
	}
	__u64 now = bpf_ktime_get_ns();
	struct sl_sock_entry seed = {
		.sk = child,
		.since_ns = state == TCP_CLOSE_WAIT ? sl_close_wait_since_lower(sk, now) : now,
		.state = state,
		.since_lower = 1,
		.stack_id = SL_NO_STACK,
		.listener = listener,
	};
	track(id, &seed);
	return 0;
}

/* The walk of a listener's accept queue, one child per step. */
struct sl_queue_walk {
	struct request_sock *req; /* the next child: a BTF pointer with cookies, else a plain address */
	__u64 listener;
};

/* One child: seeds it, moves to the next; 1 (stop) at the queue's end. The child twice: as
 * a BTF pointer for its cookie, as a number for sl_seed_queued. */
static __always_inline long seed_next_queued(struct sl_queue_walk *walk)
{
	struct request_sock *req = walk->req;

	if (!req)
		return 1;
	__u64 child = (__u64)BPF_CORE_READ(req, sk);
	__u64 id = use_socket_cookies ? sl_sock_id(req->sk) : child;

	sl_seed_queued(child, id, walk->listener);
	walk->req = use_socket_cookies ? req->dl_next : BPF_CORE_READ(req, dl_next);
	return 0;
}

/* bpf_loop's callback (5.17+): the verifier checks it once, not once per child. */
static long seed_queued_step(__u32 index, void *walk)
{
	return seed_next_queued(walk);
}

/* Every child queued on a listener, up to SL_MAX_QUEUED (longer queues are counted). The
 * walk runs under RCU without the queue's lock: request socks and sockets are freed only
 * after a grace period (SLAB_TYPESAFE_BY_RCU), so a concurrent accept() can at worst make
 * it miss or revisit a child, never read something that is not a socket. A NULL child gets
 * identity 0 (the cookie helper checks) and is skipped there; so is one whose two reads
 * differ (accepted meanwhile) at its next scan, as stale.
 * with_loop: by bpf_loop(); else unrolled, one branch per child, which the verifier walks
 * SL_MAX_QUEUED times (about 40 ms more at every start: kernels before 5.17 only). */
static __always_inline void seed_accept_queue(struct sock *listener, __u64 listener_id, bool with_loop)
{
	struct sl_queue_walk walk = {.listener = listener_id};

	if (use_socket_cookies) {
		/* Cookies are assigned through BTF pointers: reach the queue by one. */
		struct tcp_sock *tp = bpf_skc_to_tcp_sock(listener);

		walk.req = tp ? tp->inet_conn.icsk_accept_queue.rskq_accept_head : NULL;
	} else {
		walk.req = BPF_CORE_READ((struct inet_connection_sock *)listener, icsk_accept_queue.rskq_accept_head);
	}
	if (with_loop) {
		bpf_loop(SL_MAX_QUEUED, seed_queued_step, &walk, 0);
	} else {
		for (__u32 i = 0; i < SL_MAX_QUEUED; i++) {
			if (seed_next_queued(&walk))
				break;
		}
	}
	if (walk.req)
		count(SL_CNT_QUEUE_TRUNCATED);
}

/* A listening socket in a process's fd table: a row naming the holder and the listen
 * address, and its accept queue seeded, so sockets never accepted are reported under the
 * process that stopped accepting them. */
static __always_inline void report_listener(struct bpf_iter__task_file *ctx, struct task_struct *task,
					    struct sock *sk, bool with_loop)
{
	/* Without cookies the identity is the address, and sl_seed_queued, a global function,
	 * takes numbers: a typed pointer (bpf_sock_from_file) is not one, the same address read
	 * back through the listener's socket is. */
	__u64 id = use_socket_cookies ? sl_sock_id(sk) : (__u64)BPF_CORE_READ(sk, sk_socket, sk);

	seed_accept_queue(sk, id, with_loop);
	struct sl_sock_row row = {
		.cookie = id,
		.proc_start = sl_iter_task_start(task),
		.tgid = sl_iter_task_tgid(task),
		.fd = ctx->fd,
		.state = TCP_LISTEN,
		.flags = SL_ROW_HOLDER | SL_ROW_LISTENER,
		.stack_id = SL_NO_STACK,
	};
	sl_fill_endpoints(&row, sk);
	row.rx_queue = BPF_CORE_READ(sk, sk_ack_backlog);
	row.tx_queue = BPF_CORE_READ(sk, sk_max_ack_backlog);
	BPF_CORE_READ_STR_INTO(&row.comm, task, group_leader, comm);
	write_row(ctx->meta->seq, &row);
}

/* A holder row of task's: rows come a table at a time, so the process is named (comm) in
 * its first row of each table only. */
static __always_inline void write_holder_row(struct seq_file *seq, struct sl_sock_row *row, struct task_struct *task)
{
	__u64 table = (__u64)task->files;
	bool named = table == reconcile_named_table && row->tgid == reconcile_named_tgid;

	if (!named)
		bpf_probe_read_kernel_str(&row->comm, sizeof(row->comm), task->group_leader->comm);
	if (!write_row(seq, row) && !named) {
		reconcile_named_table = table;
		reconcile_named_tgid = row->tgid;
	}
}

/* At start and every reconcile interval: every process's TCP fds in ESTABLISHED
 * or CLOSE_WAIT, in every network namespace. Seeds sockets that existed before
 * sockleak started (their age is then a lower bound). */
static __always_inline int reconcile_fd(struct bpf_iter__task_file *ctx, bool with_loop)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct sock *sk;

	if (!task || !file)
		return 0;
	if (!first_reader_of_table(task))
		return 0;
	if (use_sock_from_file) {
		struct socket *sock = bpf_sock_from_file(file);

		sk = sock ? sock->sk : NULL;
		/* A socket nobody asked for: the walk's common case when a few new sockets
		 * linger among 100k, decided by the socket's address alone (no read of the
		 * struct sock, no lookup in the sockets map: two or three cache misses). Only
		 * an unconnected one may be a listener, whose queue is walked: a connected
		 * socket is SS_CONNECTED, or SS_CONNECTING after a non-blocking connect()
		 * (Go, libuv, NIO) that nobody called again. */
		if (reconcile_wanted_only && sk && sock->state != SS_UNCONNECTED) {
			__u64 addr = (__u64)sk;
			__u32 slot = sl_wanted_slot(sl_low_half(addr));

			/* The filter first: a lookup costs a quarter of such a walk at 100k. */
			if (!(wanted_filter[(slot / 64) % SL_WANTED_FILTER_WORDS] & (1ull << (slot % 64))))
				return 0;
			if (!bpf_map_lookup_elem(&wanted_socks, &addr))
				return 0;
		}
		if (!sk || !sl_is_tcp_btf(sk))
			return 0;
	} else {
		sk = sl_file_tcp_sock(file);
		if (!sk)
			return 0;
	}
	/* A BTF pointer (direct loads) with bpf_sock_from_file, else a plain address (probe
	 * reads); the verifier drops the other branch. */
	__u32 state = use_sock_from_file ? sk->__sk_common.skc_state : BPF_CORE_READ(sk, __sk_common.skc_state);

	if (state == TCP_LISTEN) {
		if (!reconcile_skip_listeners)
			report_listener(ctx, task, sk, with_loop);
		return 0;
	}
	if (state != TCP_ESTABLISHED && state != TCP_CLOSE_WAIT)
		return 0;

	/* Cookies need a BTF pointer: userspace enables them only with bpf_sock_from_file. */
	__u64 cookie = sl_sock_id(sk);
	/* One-shot reports read every held socket whole: no lookup (a cache miss each). A
	 * queued socket seeded by this walk and accepted meanwhile is also scanned: userspace
	 * counts it once. */
	struct sl_sock_entry *entry = reconcile_read_only ? NULL : bpf_map_lookup_elem(&sockets, &cookie);
	__u32 generation = (__u32)reconcile_generation;

	/* Holders userspace has: nothing new here (a fork or dup since is for full reconciles). */
	if (reconcile_new_only && entry && entry->holders_gen && entry->holders_gen != generation)
		return 0;
	__u64 start = sl_iter_task_start(task);
	__u32 tgid = sl_iter_task_tgid(task);
	__u64 since = 0;

	if (!entry) {
		/* Seen first here (existed before sockleak, or the map was full): its age
		 * is a lower bound from kernel timestamps. */
		__u64 now = bpf_ktime_get_ns();
		__u64 lower = state == TCP_CLOSE_WAIT ? sl_close_wait_since_lower(sk, now) : now;
		struct sl_sock_entry seed = {
			.sk = (__u64)sk,
			.since_ns = lower,
			.proc_start = start,
			.owner_tgid = tgid,
			.state = state,
			.announced = 1,
			.since_lower = 1,
			.stack_id = SL_NO_STACK,
			.holders_gen = generation,
		};
		if (!reconcile_read_only) {
			track(cookie, &seed);
			entry = bpf_map_lookup_elem(&sockets, &cookie);
		}
		since = lower;
	}
	if (entry) {
		entry->announced = 1;
		/* Every holder of it in this walk is sent, not only the first one met. */
		entry->holders_gen = generation;
		/* Scans report its own facts: a brief row, without reading the socket further. */
		struct sl_sock_row brief = {
			.cookie = cookie,
			.proc_start = start,
			.tgid = tgid,
			.fd = ctx->fd,
			.state = state,
			.flags = SL_ROW_HOLDER | SL_ROW_BRIEF,
			.stack_id = SL_NO_STACK,
		};
		write_holder_row(ctx->meta->seq, &brief, task);
		return 0;
	}
	/* A full map (or a one-shot report) leaves the socket untracked: its row reports it
	 * whole, from the seed (no call site: it was not seen being created). */
	struct sl_sock_row row = {
		.cookie = cookie,
		.since_ns = since,
		.proc_start = start,
		.tgid = tgid,
		.fd = ctx->fd,
		.state = state,
		.flags = SL_ROW_HOLDER | SL_ROW_SINCE_LOWER | SL_ROW_UNTRACKED,
		.stack_id = SL_NO_STACK,
	};
	sl_fill_endpoints(&row, sk);
	row.idle_ms = sl_idle_ms(sk);
	write_holder_row(ctx->meta->seq, &row, task);
	return 0;
}

/* Two builds of one walk; userspace loads one: with bpf_loop() where the kernel has it. */
SEC("iter/task_file")
int reconcile_holders(struct bpf_iter__task_file *ctx)
{
	return reconcile_fd(ctx, true);
}

SEC("iter/task_file")
int reconcile_holders_unrolled(struct bpf_iter__task_file *ctx)
{
	return reconcile_fd(ctx, false);
}

/* Start-up clock sample, run on demand by userspace (BPF_PROG_RUN, in its own task): the
 * tick counter and the monotonic clock read together, into clock_sample. Userspace times
 * tick edges with it to learn HZ, which no kernel config file has to tell. */
SEC("raw_tp")
int sample_clock(void *ctx)
{
	struct sl_clock_sample sample = {
		.jiffies = bpf_jiffies64(),
		.ktime_ns = bpf_ktime_get_ns(),
	};
	/* The reader is sockleak: its pid namespace is the one its reports speak in. */
	const struct pid *pid = BPF_CORE_READ(sl_current_task(), thread_pid);

	__u32 level = BPF_CORE_READ(pid, level);
	const struct upid *own = sl_upid(pid, level);

	sample.pidns_level = level;
	sample.pidns_inum = BPF_CORE_READ(own, ns, ns.inum);
	clock_sample = sample;
	return 0;
}

/* When call sites are named: every process and its executable file. One record per
 * process from its leader, or from its threads if the leader has exited (zombie, no mm);
 * userspace keeps one per process. */
SEC("iter/task")
int list_executables(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;

	if (!task || (task->pid != task->tgid && !BPF_CORE_READ(task, group_leader, exit_state)))
		return 0;
	struct sl_capturer process = {};

	process_executable(task, &process);
	if (process.exe_ino && bpf_seq_write(ctx->meta->seq, &process, sizeof(process)))
		count(SL_CNT_ROWS_LOST);
	return 0;
}
