// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The floor of a hook on the TCP state tracepoint: a program that does nothing. What the
 * kernel spends to run any program there (the tracepoint's dispatch) is all it costs, so
 * scripts/bench.sh measures it against nginx beside sockleak's own hook. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state_change_empty, const struct sock *sk, int oldstate, int newstate)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
