/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The one definition of every record that crosses the kernel/user boundary.
 * Included by bpf/sockleak.bpf.c (with vmlinux.h) and by userspace C++ (with
 * <linux/types.h>). Fixed-size __u* fields only; userspace static_asserts sizes.
 * Bump SL_ABI_VERSION whenever a layout changes.
 */
#ifndef SOCKLEAK_ABI_H
#define SOCKLEAK_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define SL_ABI_VERSION 11
#define SL_COMM_LEN 16
#define SL_STACK_DEPTH 32   /* user frames kept per call site */
#define SL_MAX_HOLDER_PROCESSES 4096 /* processes holding reported sockets the fork hook knows */
#define SL_NO_STACK 0xffffffffu
#define SL_ADDR_LEN 16

#define SL_AF_INET 2
#define SL_AF_INET6 10

/* Ring-buffer event kinds. Only transitions that matter reach userspace. */
enum sl_event_kind {
	/* An announced socket (one userspace reported) changed state. */
	SL_EV_STATE = 1,
	/* A process closed an fd of an announced socket. */
	SL_EV_FD_CLOSE = 2,
	/* A process called close_range(); its holdings must be re-read. */
	SL_EV_CLOSE_RANGE = 3,
	/* `exec` only: a watched process's first socket from a new call site (stack_id), sent at
	 * once so that userspace reads the process's mappings while it still runs. */
	SL_EV_CALL_SITE = 4,
	/* `exec` only: a struct sl_exit_close record (not an sl_event). */
	SL_EV_EXIT_CLOSE = 5,
};

struct sl_event {
	__u64 ts_ns;      /* CLOCK_MONOTONIC */
	__u64 cookie;     /* socket cookie; 0 for SL_EV_CLOSE_RANGE */
	__u64 proc_start; /* actor's process start (boottime ns) */
	__u32 kind;       /* enum sl_event_kind */
	__u32 tgid;       /* actor (close) or owner (state) */
	__u32 old_state;  /* SL_EV_STATE */
	__u32 new_state;  /* SL_EV_STATE */
	__u32 fd_first;   /* SL_EV_FD_CLOSE fd, SL_EV_CLOSE_RANGE first */
	__u32 fd_last;    /* SL_EV_CLOSE_RANGE last */
	__u32 inode;      /* SL_EV_FD_CLOSE: the socket's inode (socket:[N] in /proc/PID/fd) */
	__u32 stack_id;   /* SL_EV_CALL_SITE */
};

/* Per-CPU counters (BPF_MAP_TYPE_PERCPU_ARRAY index). */
enum sl_counter {
	SL_CNT_EVENTS_SENT = 0,
	SL_CNT_EVENTS_LOST,     /* ring buffer full */
	SL_CNT_SOCKETS_FULL,    /* socket map full: socket not tracked */
	SL_CNT_ROWS_LOST,       /* iterator rows the kernel could not deliver (none: full buffers are retried) */
	SL_CNT_STALE_ENTRIES,   /* map entries whose socket was gone, removed by a scan */
	SL_CNT_STACKS_LOST,     /* call-site stack not captured (stack map full or collision) */
	SL_CNT_QUEUE_TRUNCATED, /* accept queues longer than a reconcile walks (SL_MAX_QUEUED) */
	SL_CNT_ESTABLISHED,     /* transitions to ESTABLISHED: a reconcile of new sockets is due only after one */
	SL_CNT_HOLDER_FORKS,    /* forks of processes holding reported sockets: their holders must be read again */
	SL_CNT_MAX,
};


/* The process whose user stack was captured as a call site, and its executable: names
 * come from its mappings, or from a holder's running the same executable file. Also the
 * record of the list_executables iterator (any process and its executable). */
struct sl_capturer {
	__u64 start;      /* process start (boottime ns) */
	__u64 exe_ino;    /* inode of its executable at capture */
	__u64 layout;     /* mm start_code ^ mmap_base: changes with every exec, kept by fork */
	__u32 tgid;
	__u32 exe_dev;    /* that inode's device, kernel encoding (major << 20 | minor) */
};

/* Value of the socket map, keyed by socket cookie. */
struct sl_sock_entry {
	__u64 sk;         /* struct sock address; revalidated by cookie before use */
	__u64 since_ns;   /* entered current state, CLOCK_MONOTONIC */
	__u64 proc_start; /* owner process start (boottime ns) */
	__u32 owner_tgid; /* 0 = unknown (closed by owner, or never learned) */
	__u32 state;      /* TCP state (TCP_ESTABLISHED = 1 ...) */
	/* Separate bytes, not bits of one word: the state hook (softirq) and the iterators
	 * write them concurrently, and before 5.12 BPF has no atomic OR/AND to share a word. */
	__u8 announced;   /* userspace knows it: send its changes */
	__u8 since_lower; /* since_ns is a lower bound (pre-existing, or state seen late) */
	__u8 reported;    /* the last scan that read it reported it lingering: userspace has it */
	__u8 site_tried;  /* a read tried to capture its call site: not again at every read */
	__u32 stack_id;   /* user stack at connect()/accept(), SL_NO_STACK when not captured */
	struct sl_capturer capturer; /* who captured stack_id (zero without a stack) */
	__u64 listener;   /* identity of the listener whose accept queue a reconcile found it in */
	/* Scans skip the entry until then (CLOCK_MONOTONIC): it cannot start to linger earlier
	 * (a CLOSE_WAIT socket lingers at a known time, an ESTABLISHED one not before its idle
	 * time can reach the threshold), and a reported one is re-read only this often. */
	__u64 next_check_ns;
	/* Reported: its next sequence numbers both ways as reported (sl_data_mark). A recheck
	 * that reads the same finds no data sent or received since: still idle, with no clock
	 * and no timestamp involved. */
	__u64 data_mark;
	/* The reconcile that sent its holders to userspace (low 32 bits of the generation);
	 * 0: not sent yet (made by the state hook), so the next reconcile sends them. */
	__u32 holders_gen;
	__u32 _pad2;
};

/* The top `bits` bits of a Fibonacci hash of the low half of a socket's address (slab
 * objects sit at regular strides): its slot in the filters below, and its call-site sample. */
static inline __u32 sl_address_hash(__u32 address_low, unsigned bits)
{
	return (__u32)((address_low * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

/* Most sockets a wanted-only reconcile asks for (more: a reconcile of every new socket). */
#define SL_MAX_WANTED 1024
/* Bits of the wanted sockets' filter (2 KiB): one bit per slot of the low half of a
 * wanted address, set by userspace; a walk looks up only sockets whose bit is set (at
 * most 1,024 of 16,384 bits set: 94% of the others pass without a lookup). */
#define SL_WANTED_FILTER_BITS 14
#define SL_WANTED_FILTER_WORDS ((1u << SL_WANTED_FILTER_BITS) / 64)
static inline __u32 sl_wanted_slot(__u32 address_low)
{
	return sl_address_hash(address_low, SL_WANTED_FILTER_BITS);
}

/* The addresses of the last sockets to reach ESTABLISHED on one CPU (a per-CPU value):
 * sk[n % SL_NEW_SLOTS] for the n-th. A reconcile of new sockets visits those alone when no
 * CPU wrote more than half its slots since the last one (the rest: being overwritten). */
#define SL_NEW_SLOTS 512
struct sl_new_socks {
	__u64 written; /* sockets noted on this CPU, ever */
	__u64 sk[SL_NEW_SLOTS];
};

/* A socket that entered CLOSE_WAIT, noted by the state hook rather than added to the map:
 * most leave that state within microseconds (the client of a short connection the server
 * closed), and an insert and a delete in the map were most of the hook's cost under
 * connection churn. Notes sit in slots chosen by the connection hash; one that leaves the
 * state clears its own. A program userspace runs before each scan settles the others:
 * added to the map if they still linger, from since_ns. A note in the way of another is
 * settled by the hook first. id: the socket's identity (its cookie assigned when noted);
 * sk 0: a free slot. */
struct sl_close_wait_note {
	__u64 sk;
	__u64 id;
	__u64 since_ns;
};
#define SL_CLOSE_WAIT_SLOT_BITS 10
#define SL_CLOSE_WAIT_SLOTS (1 << SL_CLOSE_WAIT_SLOT_BITS)

/* Slots of the address filter (sockets named by address): a count of map entries each. */
#define SL_ADDRESS_FILTER_BITS 12
#define SL_ADDRESS_FILTER_SLOTS (1 << SL_ADDRESS_FILTER_BITS)
/* A socket's slot in it. */
static inline __u32 sl_address_slot(__u32 address_low)
{
	return sl_address_hash(address_low, SL_ADDRESS_FILTER_BITS);
}

/* The number a socket's call site is sampled by (one in N: this modulo N). */
static inline __u32 sl_sample_hash(__u32 address_low)
{
	return sl_address_hash(address_low, 32);
}

/* Longest accept queue a reconcile walks per listener. The walk is unrolled for the verifier,
 * whose work (at every start) grows with it: 4,096 doubled sockleak's start-up. */
#define SL_MAX_QUEUED 1024

/* sl_sock_row.flags */
#define SL_ROW_SINCE_LOWER (1u << 0)    /* since_ns is a lower bound */
#define SL_ROW_HOLDER (1u << 1)         /* tgid holds the socket in fd (task_file) */
#define SL_ROW_UNTRACKED (1u << 2)      /* not in the socket map (it was full): scans miss it */
/* A listening socket held in fd (reconcile): cookie is its identity, the local endpoint its
 * listen address, rx_queue its accept queue length and tx_queue the queue's limit. */
#define SL_ROW_LISTENER (1u << 3)
/* In a listener's accept queue: the handshake completed, no process accepted it (scan).
 * listener names that listener when a reconcile walked its queue, else 0. */
#define SL_ROW_UNACCEPTED (1u << 4)
/* Scan: a socket an earlier scan reported no longer lingers (it was active, or is gone);
 * only the cookie is set. */
#define SL_ROW_RETIRED (1u << 5)
/* Scan: no socket; written before every SL_WALK_MARK-th entry of the walk, so that
 * userspace can read a walk in slices, one per report, and know how far it got. */
#define SL_ROW_WALK_MARK (1u << 6)
#define SL_WALK_MARK 4096
/* Reconcile: a socket in the map, whose own facts scans report: only who holds it (cookie,
 * holder, fd, state; comm on the first row of each process's fd table). */
#define SL_ROW_BRIEF (1u << 7)

/* One socket as seen by an iterator; written with bpf_seq_write. */
struct sl_sock_row {
	__u64 cookie;
	__u64 since_ns;     /* CLOCK_MONOTONIC; entered state */
	__u64 idle_ms;      /* since last data sent or received */
	__u64 proc_start;   /* holder/owner process start (boottime ns) */
	__u32 tgid;         /* holder (SL_ROW_HOLDER) or owner; 0 = unknown */
	__u32 fd;           /* holder's fd; ~0u when not a holder row */
	__u32 state;
	__u32 flags;        /* SL_ROW_* */
	__u32 netns;        /* network namespace inode */
	__u32 rx_queue;     /* bytes received, not yet read by the process */
	__u32 tx_queue;     /* bytes sent, not yet acknowledged */
	__u16 family;       /* SL_AF_INET / SL_AF_INET6 */
	__u16 local_port;   /* host order */
	__u16 peer_port;    /* host order */
	__u16 _pad;
	__u8 local_addr[SL_ADDR_LEN]; /* IPv4 in the first 4 bytes */
	__u8 peer_addr[SL_ADDR_LEN];
	char comm[SL_COMM_LEN];       /* holder process name (leader); empty in scans */
	__u32 stack_id;               /* call site that created the socket, or SL_NO_STACK */
	struct sl_capturer capturer;  /* who captured stack_id (zero without a stack) */
	__u64 listener;               /* SL_ROW_UNACCEPTED: its listener's identity, 0 if not known yet */
};

/* `exec` only: a watched process exited holding a CLOSE_WAIT socket, and its exit closed
 * it: a socket the program never closed, however short the run. head.kind is
 * SL_EV_EXIT_CLOSE, head.tgid/proc_start the exiting process; row is the socket as a scan
 * would report it (fd ~0u, since_ns its CLOSE_WAIT entry), read as the exit closed it. */
struct sl_exit_close {
	struct sl_event head;
	struct sl_sock_row row;
};

/* One reading of the kernel's tick counter and monotonic clock, taken together, and the
 * pid namespace of the process that read it (sockleak). */
struct sl_clock_sample {
	__u64 jiffies;      /* jiffies_64 */
	__u64 ktime_ns;     /* CLOCK_MONOTONIC */
	__u32 pidns_level;  /* 0: the initial (host) pid namespace */
	__u32 pidns_inum;   /* its inode number (ls -l /proc/self/ns/pid) */
};

/* What a scan reports; written by userspace into .bss before each scan. A scan reports
 * changes only: sockets that start to linger (or whose idle time was reset and reached the
 * threshold again) and, as SL_ROW_RETIRED, reported ones that stopped. A reported CLOSE_WAIT
 * socket is never re-read: leaving that state is an event. */
struct sl_scan_config {
	__u64 close_wait_ns;       /* report CLOSE_WAIT sockets at least this old */
	__u64 established_idle_ms; /* report ESTABLISHED sockets idle at least this long */
	__u64 recheck_ns;          /* re-read a reported idle ESTABLISHED socket this often */
	__u32 full;                /* report every lingering socket (userspace replaces its set) */
	__u32 _pad;
};

/* Where the kernel refuses map-element iterators, a scan is a program userspace runs on
 * demand (scan_sockets_loop, over bpf_for_each_map_elem()); this, in its .bss, is one run.
 * Set by userspace: where to resume, the entry resume_key (0: none) or, should that entry
 * be gone, the place start in the map's order, whichever comes first (entries deleted or
 * added before it move it); and how many entries to scan. Set by the run: the entries it
 * passed (skipped ones included: all of them when the map ended), those it scanned, and
 * why it stopped, with the entry to resume at (its place and key). */
struct sl_scan_loop {
	__u64 start;
	__u64 resume_key;
	__u64 budget;
	__u64 seen;
	__u64 scanned;
	__u64 stopped_at;
	__u64 next_key;
	__u32 stopped;  /* SL_LOOP_* */
	__u32 _pad;
};
#define SL_LOOP_ENDED 0  /* the map ended: a whole walk */
#define SL_LOOP_FULL 1   /* the scan ring filled up: drain it and run again from next_key */
#define SL_LOOP_BUDGET 2 /* budget entries scanned */

#endif /* SOCKLEAK_ABI_H */
