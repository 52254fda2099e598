// Fake iterator rows, ring-buffer events and clock readings for SocketTable tests.
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "core/socket_table.h"

namespace sockleak::test {

constexpr uint64_t kSec = 1'000'000'000ull;
constexpr uint64_t kNow = 10'000 * kSec;  // the fake CLOCK_MONOTONIC reading of a scan
constexpr uint32_t kHostNetns = 4026531840u;
constexpr uint32_t kTcpCloseWait = 8;
constexpr uint32_t kTcpEstablished = 1;
constexpr uint32_t kTcpLastAck = 9;

const ProcessKey kServer{100, 1'000};
const ProcessKey kWorker{200, 2'000};

const Thresholds kDefaults{};  // CLOSE_WAIT 30s, idle ESTABLISHED 5m

inline sl_sock_row base_row(uint64_t cookie, ProcessKey owner, uint32_t state) {
  sl_sock_row row{};
  row.cookie = cookie;
  row.tgid = owner.pid;
  row.proc_start = owner.start_ns;
  row.fd = ~0u;
  row.stack_id = SL_NO_STACK;  // as the kernel writes a row without a call site
  row.state = state;
  row.netns = kHostNetns;
  row.family = SL_AF_INET;
  row.local_port = 8080;
  row.local_addr[0] = 127;
  row.local_addr[3] = 1;
  row.peer_port = static_cast<uint16_t>(40000 + cookie);
  row.peer_addr[0] = 127;
  row.peer_addr[3] = 1;
  return row;
}

// A scan row: a CLOSE_WAIT socket that entered the state at since_ns.
inline sl_sock_row close_wait_row(uint64_t cookie, ProcessKey owner, uint64_t since_ns) {
  sl_sock_row row = base_row(cookie, owner, kTcpCloseWait);
  row.since_ns = since_ns;
  return row;
}

// A scan row: an ESTABLISHED socket without traffic for idle_ms when scanned.
inline sl_sock_row established_row(uint64_t cookie, ProcessKey owner, uint64_t idle_ms) {
  sl_sock_row row = base_row(cookie, owner, kTcpEstablished);
  row.since_ns = kSec;
  row.idle_ms = idle_ms;
  return row;
}

inline sl_sock_row with_peer(sl_sock_row row, std::array<uint8_t, 4> address, uint16_t port) {
  std::memset(row.peer_addr, 0, sizeof row.peer_addr);
  std::memcpy(row.peer_addr, address.data(), address.size());
  row.peer_port = port;
  return row;
}

inline sl_sock_row with_flags(sl_sock_row row, uint32_t flags) {
  row.flags |= flags;
  return row;
}

// A reconcile row: holder has the socket open in fd.
inline sl_sock_row holder_row(uint64_t cookie, ProcessKey holder, uint32_t fd, const std::string& comm) {
  sl_sock_row row = base_row(cookie, holder, kTcpCloseWait);
  row.fd = fd;
  row.flags = SL_ROW_HOLDER;
  std::memcpy(row.comm, comm.data(), std::min(comm.size(), sizeof row.comm - 1));
  return row;
}

inline sl_event state_event(uint64_t cookie, ProcessKey owner, uint32_t old_state, uint32_t new_state) {
  sl_event ev{};
  ev.kind = SL_EV_STATE;
  ev.cookie = cookie;
  ev.tgid = owner.pid;
  ev.proc_start = owner.start_ns;
  ev.old_state = old_state;
  ev.new_state = new_state;
  return ev;
}

inline sl_event fd_close_event(uint64_t cookie, ProcessKey actor, uint32_t fd) {
  sl_event ev{};
  ev.kind = SL_EV_FD_CLOSE;
  ev.cookie = cookie;
  ev.tgid = actor.pid;
  ev.proc_start = actor.start_ns;
  ev.fd_first = fd;
  ev.fd_last = fd;
  return ev;
}

inline sl_event close_range_event(ProcessKey actor, uint32_t first, uint32_t last) {
  sl_event ev{};
  ev.kind = SL_EV_CLOSE_RANGE;
  ev.tgid = actor.pid;
  ev.proc_start = actor.start_ns;
  ev.fd_first = first;
  ev.fd_last = last;
  return ev;
}

inline void scan(SocketTable& table, const std::vector<sl_sock_row>& rows, uint64_t now_ns = kNow) {
  table.apply_scan(rows, now_ns);
}

inline void reconcile(SocketTable& table, const std::vector<sl_sock_row>& rows) {
  table.apply_reconcile(rows);
}

inline bool everyone_alive(const ProcessKey&) { return true; }

inline const LingerGroup* find_group(const LingerReport& report, ProcessKey process, TcpState state) {
  for (const LingerGroup& g : report.groups) {
    if (g.process == process && g.state == state) return &g;
  }
  return nullptr;
}

inline std::string peer_address(const sockleak::PeerCount& p) { return p.peer.address_string(); }


}  // namespace sockleak::test
