/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Elapsed kernel ticks between 32-bit jiffies stamps (tcp_sock's lsndtime, lrcvtime,
 * rcv_tstamp). Compiled into the BPF program and unit-tested in C++ from this one file.
 *
 * Stamps wrap every 2^32 ticks (49 days at HZ=1000). A signed difference would turn
 * anything idle for 2^31 ticks (24.9 days at 1000 Hz) into "just now", and the leak would
 * drop out of reports. Unsigned differences are right for a full 2^32 ticks; only a stamp
 * a little ahead of the reading (another CPU stamped it after this one read jiffies)
 * lands in the top of the range, and counts as no time at all.
 */
#ifndef SOCKLEAK_SL_TICKS_H
#define SOCKLEAK_SL_TICKS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Stamps up to this many ticks ahead of now are "now" (65 s at 1000 Hz). */
#define SL_TICKS_AHEAD 0x10000u

static inline __u32 sl_ticks_since(__u32 now, __u32 then)
{
	__u32 elapsed = now - then;

	return elapsed > (__u32)0 - SL_TICKS_AHEAD ? 0 : elapsed;
}

/* Ticks since the later of two stamps (last data sent, last data received). */
static inline __u32 sl_ticks_since_either(__u32 now, __u32 a, __u32 b)
{
	__u32 since_a = sl_ticks_since(now, a);
	__u32 since_b = sl_ticks_since(now, b);

	return since_a < since_b ? since_a : since_b;
}

#endif /* SOCKLEAK_SL_TICKS_H */
