/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* Socket identity and reading helpers shared by sockleak's BPF programs. */
#ifndef SOCKLEAK_SOCK_IDENTITY_BPF_H
#define SOCKLEAK_SOCK_IDENTITY_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "sockleak_abi.h"
#include "sl_ticks.h"

#define SL_S_IFMT 00170000
#define SL_S_IFSOCK 0140000
#define SL_SOCK_STREAM 1

/*
 * Kernel differences, decided once by userspace (kernel/kernel_features.cpp) before load.
 * The values are frozen read-only data, so the verifier drops the branch a kernel cannot
 * take and never sees a helper it lacks.
 */
/* Name sockets by their kernel cookie (bpf_get_socket_cookie in tracing programs, 5.12+).
 * Otherwise by the struct sock address: unique while the socket lives; the state hook
 * forgets an address when a new socket is born there. */
const volatile bool use_socket_cookies = true;
/* bpf_sock_from_file() (5.11+); otherwise the file's inode mode and the socket's back
 * pointer to its file, read with probe reads. */
const volatile bool use_sock_from_file = true;

/* Kernel tick rate, measured by userspace at start-up (no kernel config file needed):
 * written through the mmap'ed .bss before any iterator runs. */
__u32 jiffies_hz = 0;

/* Only plain TCP stream sockets are tracked (not MPTCP, not raw). For a pointer reached
 * by probe reads (a plain address). */
static __always_inline bool sl_is_tcp(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP &&
	       BPF_CORE_READ(sk, sk_type) == SL_SOCK_STREAM;
}

/* The same for a BTF pointer (tracepoint argument, iterator context): direct loads, no
 * helper calls — this runs on every TCP state change on the host. */
static __always_inline bool sl_is_tcp_btf(const struct sock *sk)
{
	return sk->sk_protocol == IPPROTO_TCP && sk->sk_type == SL_SOCK_STREAM;
}

/* The TCP socket behind an open file, or NULL; probe reads only. A socket file has a
 * socket inode and a struct socket whose file is this file (an O_PATH file of a unix
 * socket path has the mode but no struct socket). */
static __always_inline struct sock *sl_file_tcp_sock(struct file *file)
{
	if ((BPF_CORE_READ(file, f_inode, i_mode) & SL_S_IFMT) != SL_S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(file, private_data);

	if (!sock || BPF_CORE_READ(sock, file) != file)
		return NULL;
	struct sock *sk = BPF_CORE_READ(sock, sk);

	if (!sk || !sl_is_tcp(sk))
		return NULL;
	return sk;
}

/* The file behind fd in the current task, or NULL. Probe reads only: called from
 * sys_enter where fdtable entries are plain pointers. */
static __always_inline struct file *sl_current_fd_file(__u32 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), fds + fd))
		return NULL;
	return file;
}

/* The socket's identity, assigned now if it has none (a cookie is given on first ask).
 * sk must be a BTF pointer (tracepoint argument, iterator context). */
static __always_inline __u64 sl_sock_id(struct sock *sk)
{
	if (use_socket_cookies)
		return bpf_get_socket_cookie(sk);
	return (__u64)sk;
}

/* The socket's identity if it has one, else 0; direct loads from a BTF pointer. Every
 * socket in the map got its identity from sl_sock_id() when it was added. */
static __always_inline __u64 sl_assigned_sock_id(const struct sock *sk)
{
	if (use_socket_cookies)
		return sk->__sk_common.skc_cookie.counter;
	return (__u64)sk;
}

/* The same for a socket reached through probe reads. */
static __always_inline __u64 sl_read_sock_id(const struct sock *sk)
{
	if (use_socket_cookies)
		return BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	return (__u64)sk;
}

/* sockleak's pid namespace, from its first clock sample (written through the mmap'ed .bss
 * before anything attaches). Level 0 is the host's: every process, by its global id. */
__u32 pidns_level = 0;
__u32 pidns_inum = 0;

/* The level-th entry of a struct pid's numbers[] (a flexible array: CO-RE finds its start). */
static __always_inline const struct upid *sl_upid(const struct pid *pid, __u32 level)
{
	return (const struct upid *)((const char *)pid + bpf_core_field_offset(struct pid, numbers)) + level;
}

/* The process id of task as sockleak's pid namespace sees it; 0 where it cannot be seen (a
 * process of an ancestor or sibling namespace: a sidecar sees only its pod's). */
static __always_inline __u32 sl_task_tgid(struct task_struct *task)
{
	if (!pidns_level)
		return BPF_CORE_READ(task, tgid);
	const struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	__u32 level = pidns_level;

	if (!pid || BPF_CORE_READ(pid, level) < level)
		return 0;
	const struct upid *upid = sl_upid(pid, level);

	if (BPF_CORE_READ(upid, ns, ns.inum) != pidns_inum)
		return 0;
	return BPF_CORE_READ(upid, nr);
}

static __always_inline __u64 sl_task_start(struct task_struct *task)
{
	return BPF_CORE_READ(task, group_leader, start_boottime);
}

/* The running task for probe reads (bpf_get_current_task_btf needs 5.11). */
static __always_inline struct task_struct *sl_current_task(void)
{
	return (struct task_struct *)bpf_get_current_task();
}

/* The running process's id as sockleak's pid namespace sees it (0: not visible). */
static __always_inline __u32 sl_current_tgid(void)
{
	if (!pidns_level)
		return bpf_get_current_pid_tgid() >> 32;
	return sl_task_tgid(sl_current_task());
}

/* Kernel ticks to milliseconds; a tick count the kernel keeps in 32 bits. */
static __always_inline __u64 sl_jiffies_to_ms(__u32 ticks)
{
	__u32 hz = jiffies_hz ? jiffies_hz : 1000;

	return (__u64)ticks * 1000 / hz;
}

/* Milliseconds since the socket last sent or received data (the later of its jiffies
 * stamps). */
static __always_inline __u64 sl_idle_ms(const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u32 now = (__u32)bpf_jiffies64();
	__u32 sent = BPF_CORE_READ(tp, lsndtime);
	__u32 rcvd = BPF_CORE_READ(tp, inet_conn.icsk_ack.lrcvtime);

	return sl_jiffies_to_ms(sl_ticks_since_either(now, sent, rcvd));
}

/* A mark that changes whenever the socket sends or receives new data: the next sequence
 * number each way (received in order; sent, not retransmitted; keepalive probes and zero
 * window probes move neither, nor do they move the activity stamps). The two sit side by
 * side in struct tcp_sock, one cache line where the stamps are two. A transfer of exactly
 * a multiple of 4 GiB each way between two reads would go unseen. */
static __always_inline __u64 sl_data_mark(const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	return (__u64)BPF_CORE_READ(tp, rcv_nxt) << 32 | BPF_CORE_READ(tp, snd_nxt);
}

/* Lower bound of the time a CLOSE_WAIT socket entered that state: the FIN was the
 * last ACK-bearing segment received, so rcv_tstamp is at or after its arrival. */
static __always_inline __u64 sl_close_wait_since_lower(const struct sock *sk, __u64 now_ns)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u32 now = (__u32)bpf_jiffies64();
	__u32 rcv = BPF_CORE_READ(tp, rcv_tstamp);
	__u64 ago_ns = sl_jiffies_to_ms(sl_ticks_since(now, rcv)) * 1000000ull;

	return ago_ns < now_ns ? now_ns - ago_ns : 0;
}

/* Fills addresses, ports, queues and namespace of row from sk. */
static __always_inline void sl_fill_endpoints(struct sl_sock_row *row, const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	row->family = family;
	row->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	row->peer_port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == SL_AF_INET6) {
		bpf_core_read(row->local_addr, sizeof(row->local_addr),
			      &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(row->peer_addr, sizeof(row->peer_addr),
			      &sk->__sk_common.skc_v6_daddr);
	} else {
		bpf_core_read(row->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(row->peer_addr, 4, &sk->__sk_common.skc_daddr);
	}
	row->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	row->rx_queue = BPF_CORE_READ(tp, rcv_nxt) - BPF_CORE_READ(tp, copied_seq);
	row->tx_queue = BPF_CORE_READ(tp, write_seq) - BPF_CORE_READ(tp, snd_una);
}

/* An iterator's task (a BTF pointer), read by direct loads: its process's start time and
 * id (sl_task_start/sl_task_tgid read the running task, which is no BTF pointer before 5.11). */
static __always_inline __u64 sl_iter_task_start(struct task_struct *task)
{
	return task->group_leader->start_boottime;
}

static __always_inline __u32 sl_iter_task_tgid(struct task_struct *task)
{
	return pidns_level ? sl_task_tgid(task) : task->tgid;
}

#endif /* SOCKLEAK_SOCK_IDENTITY_BPF_H */
