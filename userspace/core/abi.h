// C++ view of the kernel-boundary records: the one definition lives in bpf/sockleak_abi.h.
#pragma once

#include "sockleak_abi.h"

static_assert(sizeof(sl_event) == 56, "sl_event layout changed: bump SL_ABI_VERSION");
static_assert(sizeof(sl_capturer) == 32, "sl_capturer layout changed: bump SL_ABI_VERSION");
static_assert(sizeof(sl_sock_row) == 160, "sl_sock_row layout changed: bump SL_ABI_VERSION");
static_assert(sizeof(sl_sock_entry) == 104, "sl_sock_entry layout changed: bump SL_ABI_VERSION");
static_assert(sizeof(sl_clock_sample) == 24, "sl_clock_sample layout changed: bump SL_ABI_VERSION");
static_assert(sizeof(sl_scan_config) == 32, "sl_scan_config layout changed: bump SL_ABI_VERSION");
static_assert(sizeof(sl_scan_loop) == 64, "sl_scan_loop layout changed: bump SL_ABI_VERSION");
// A per-CPU value: userspace reads one per CPU at a stride of its size rounded up to 8.
static_assert(sizeof(sl_new_socks) == 8 + 8 * SL_NEW_SLOTS && sizeof(sl_new_socks) % 8 == 0,
              "sl_new_socks layout changed: bump SL_ABI_VERSION");
static_assert(sizeof(sl_exit_close) == sizeof(sl_event) + sizeof(sl_sock_row), "sl_exit_close layout changed: bump SL_ABI_VERSION");
