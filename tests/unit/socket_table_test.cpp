// SocketTable rules, driven by fake iterator rows, fake ring-buffer events and a fake
// clock (a plain now_ns passed to apply_scan/report).
#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/socket_table.h"
#include "report_checks.h"
#include "table_fixtures.h"

using namespace std::chrono_literals;
using sockleak::GroupFilter;
using sockleak::LingerGroup;
using sockleak::LingerReport;
using sockleak::Nanos;
using sockleak::ProcessKey;
using sockleak::SocketTable;
using sockleak::TcpState;
using sockleak::Thresholds;

using namespace sockleak::test;

// ---- thresholds and ages ----

TEST_CASE("a CLOSE_WAIT socket older than the threshold is reported under the process that owns it",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});

  const LingerReport report = table.report(kDefaults, kNow);

  REQUIRE(report.groups.size() == 1);
  const LingerGroup& g = report.groups[0];
  CHECK(g.process == kServer);
  CHECK(g.state == TcpState::kCloseWait);
  CHECK(g.count == 1);
  CHECK(g.oldest == 40s);
  CHECK_FALSE(g.oldest_is_lower_bound);
  CHECK(report.totals.close_wait == 1);
  CHECK(report.totals.established == 0);
  CHECK(report.totals.unowned == 0);
}

TEST_CASE("a CLOSE_WAIT socket younger than the threshold is not reported", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 10 * kSec)});

  const LingerReport report = table.report(kDefaults, kNow);

  CHECK(report.groups.empty());
  CHECK(report.totals.close_wait == 0);
  CHECK(table.lingering() == 1);
}

TEST_CASE("a CLOSE_WAIT socket exactly at the threshold is reported", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 30 * kSec)});
  CHECK(table.report(kDefaults, kNow).totals.close_wait == 1);
}

TEST_CASE("a CLOSE_WAIT socket's age keeps growing with the clock after the scan", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 20 * kSec)});

  CHECK(table.report(kDefaults, kNow).groups.empty());

  const LingerReport later = table.report(kDefaults, kNow + 15 * kSec);
  REQUIRE(later.groups.size() == 1);
  CHECK(later.groups[0].oldest == 35s);
}

TEST_CASE("an ESTABLISHED socket's age is its idle time at the scan plus the time since the scan",
          "[socket_table]") {
  SocketTable table;
  scan(table, {established_row(1, kServer, 200'000)});  // idle 200s when scanned at kNow

  SECTION("past the idle threshold it is reported with idle + (now - seen)") {
    const LingerReport report = table.report(kDefaults, kNow + 150 * kSec);
    REQUIRE(report.groups.size() == 1);
    CHECK(report.groups[0].state == TcpState::kEstablished);
    CHECK(report.groups[0].oldest == 350s);
    CHECK(report.totals.established == 1);
    CHECK(report.totals.close_wait == 0);
  }
  SECTION("below the idle threshold it is not reported") {
    const LingerReport report = table.report(kDefaults, kNow + 50 * kSec);  // 250s < 5m
    CHECK(report.groups.empty());
    CHECK(report.totals.established == 0);
  }
}

TEST_CASE("the CLOSE_WAIT and ESTABLISHED thresholds apply independently", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 2 * kSec), established_row(2, kServer, 120'000)});

  const LingerReport short_close_wait = table.report(Thresholds{1s, 1h}, kNow);
  CHECK(short_close_wait.totals.close_wait == 1);
  CHECK(short_close_wait.totals.established == 0);

  const LingerReport short_idle = table.report(Thresholds{1h, 1min}, kNow);
  CHECK(short_idle.totals.close_wait == 0);
  CHECK(short_idle.totals.established == 1);
}

TEST_CASE("a new scan replaces the sockets of the previous scan", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec), close_wait_row(2, kServer, kNow - 50 * kSec)});
  REQUIRE(table.lingering() == 2);

  scan(table, {close_wait_row(2, kServer, kNow - 50 * kSec)}, kNow + kSec);

  CHECK(table.lingering() == 1);
  const LingerReport report = table.report(kDefaults, kNow + kSec);
  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].count == 1);
  CHECK(report.groups[0].oldest == 51s);
}

// ---- grouping ----

TEST_CASE("sockets are grouped per process and state with a count and the oldest age",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec), close_wait_row(2, kServer, kNow - 60 * kSec),
               close_wait_row(3, kServer, kNow - 50 * kSec), established_row(4, kServer, 400'000),
               close_wait_row(5, kWorker, kNow - 45 * kSec)});

  const LingerReport report = table.report(kDefaults, kNow);

  REQUIRE(report.groups.size() == 3);
  // Most sockets first; equal counts by ascending pid.
  CHECK(report.groups[0].process == kServer);
  CHECK(report.groups[0].state == TcpState::kCloseWait);
  CHECK(report.groups[0].count == 3);
  CHECK(report.groups[0].oldest == 60s);
  CHECK(report.groups[1].process == kServer);
  CHECK(report.groups[1].state == TcpState::kEstablished);
  CHECK(report.groups[1].count == 1);
  CHECK(report.groups[1].oldest == 400s);
  CHECK(report.groups[2].process == kWorker);
  CHECK(report.groups[2].count == 1);
  CHECK(report.groups[2].oldest == 45s);
  CHECK(report.totals.close_wait == 4);
  CHECK(report.totals.established == 1);
}

TEST_CASE("the same pid with a different start time is a different process", "[socket_table]") {
  const ProcessKey before_reuse{100, 1'000};
  const ProcessKey after_reuse{100, 9'000};
  SocketTable table;
  scan(table, {close_wait_row(1, before_reuse, kNow - 40 * kSec), close_wait_row(2, after_reuse, kNow - 40 * kSec),
               close_wait_row(3, after_reuse, kNow - 40 * kSec)});

  const LingerReport report = table.report(kDefaults, kNow);

  REQUIRE(report.groups.size() == 2);
  const LingerGroup* old_process = find_group(report, before_reuse, TcpState::kCloseWait);
  const LingerGroup* new_process = find_group(report, after_reuse, TcpState::kCloseWait);
  REQUIRE(old_process != nullptr);
  REQUIRE(new_process != nullptr);
  CHECK(old_process->count == 1);
  CHECK(new_process->count == 2);
}

TEST_CASE("a group lists the distinct network namespaces of its sockets in ascending order",
          "[socket_table]") {
  sl_sock_row a = close_wait_row(1, kServer, kNow - 40 * kSec);
  sl_sock_row b = close_wait_row(2, kServer, kNow - 40 * kSec);
  sl_sock_row c = close_wait_row(3, kServer, kNow - 40 * kSec);
  a.netns = 5;
  b.netns = 3;
  c.netns = 5;
  SocketTable table;
  scan(table, {a, b, c});

  const LingerReport report = table.report(kDefaults, kNow);

  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].netns == std::vector<uint32_t>{3, 5});
}

TEST_CASE("top peers are sorted by socket count and capped at five", "[socket_table]") {
  std::vector<sl_sock_row> rows;
  uint64_t cookie = 1;
  auto add = [&](std::array<uint8_t, 4> address, int sockets) {
    for (int i = 0; i < sockets; ++i) {
      rows.push_back(with_peer(close_wait_row(cookie++, kServer, kNow - 40 * kSec), address, 443));
    }
  };
  add({10, 0, 0, 7}, 1);
  add({10, 0, 0, 1}, 3);
  add({10, 0, 0, 3}, 1);
  add({10, 0, 0, 2}, 2);
  add({10, 0, 0, 4}, 1);
  add({10, 0, 0, 5}, 1);
  add({10, 0, 0, 6}, 1);
  SocketTable table;
  scan(table, rows);

  const LingerReport report = table.report(kDefaults, kNow);

  REQUIRE(report.groups.size() == 1);
  const LingerGroup& g = report.groups[0];
  CHECK(g.count == 10);
  REQUIRE(g.top_peers.size() == SocketTable::kTopPeers);
  CHECK(peer_address(g.top_peers[0]) == "10.0.0.1");
  CHECK(g.top_peers[0].peer.port == 443);
  CHECK(g.top_peers[0].count == 3);
  CHECK(peer_address(g.top_peers[1]) == "10.0.0.2");
  CHECK(g.top_peers[1].count == 2);
  for (size_t i = 2; i < g.top_peers.size(); ++i) CHECK(g.top_peers[i].count == 1);
}

TEST_CASE("peers with the same address but different ports are counted separately", "[socket_table]") {
  SocketTable table;
  scan(table, {with_peer(close_wait_row(1, kServer, kNow - 40 * kSec), {10, 0, 0, 1}, 80),
               with_peer(close_wait_row(2, kServer, kNow - 40 * kSec), {10, 0, 0, 1}, 443),
               with_peer(close_wait_row(3, kServer, kNow - 40 * kSec), {10, 0, 0, 1}, 443)});

  const LingerReport report = table.report(kDefaults, kNow);

  REQUIRE(report.groups.size() == 1);
  const auto& peers = report.groups[0].top_peers;
  REQUIRE(peers.size() == 2);
  CHECK(peers[0].peer.port == 443);
  CHECK(peers[0].count == 2);
  CHECK(peers[1].peer.port == 80);
  CHECK(peers[1].count == 1);
}

// ---- holders ----

TEST_CASE("a CLOSE_WAIT socket older than the threshold is reported under every process that holds it",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec)});
  reconcile(table, {holder_row(7, kServer, 5, "server"), holder_row(7, kWorker, 9, "worker")});

  const LingerReport report = table.report(kDefaults, kNow);

  REQUIRE(report.groups.size() == 2);
  const LingerGroup* server = find_group(report, kServer, TcpState::kCloseWait);
  const LingerGroup* worker = find_group(report, kWorker, TcpState::kCloseWait);
  REQUIRE(server != nullptr);
  REQUIRE(worker != nullptr);
  CHECK(server->count == 1);
  CHECK(worker->count == 1);
  CHECK(server->oldest == 60s);
  CHECK(worker->oldest == 60s);
  // Host totals count the socket once.
  CHECK(report.totals.close_wait == 1);
  CHECK(report.totals.unowned == 0);
}

TEST_CASE("call sites are counted per group, most sockets first, top three, with the capturing process",
          "[socket_table]") {
  SocketTable table;
  std::vector<sl_sock_row> rows;
  std::vector<sl_sock_row> holders;
  const uint32_t stacks[] = {11, 11, 11, 12, 12, 13, 14, SL_NO_STACK};  // 14 falls out of the top 3
  for (uint64_t cookie = 1; cookie <= 8; ++cookie) {
    sl_sock_row row = close_wait_row(cookie, ProcessKey{}, kNow - 60 * kSec);  // owner closed its fds
    row.stack_id = stacks[cookie - 1];
    if (row.stack_id != SL_NO_STACK) row.capturer = {kServer.start_ns, 777, 0x5000, kServer.pid, (8u << 20) | 1};
    rows.push_back(row);
    holders.push_back(holder_row(cookie, kWorker, static_cast<uint32_t>(cookie), "worker"));
  }
  scan(table, rows);
  reconcile(table, holders);  // a worker holds them now; the server captured the stacks

  const LingerReport report = table.report(kDefaults, kNow);

  const LingerGroup* worker = find_group(report, kWorker, TcpState::kCloseWait);
  REQUIRE(worker != nullptr);
  CHECK(worker->count == 8);
  REQUIRE(worker->call_sites.size() == 3);
  CHECK(worker->call_sites[0].stack_id == 11);
  CHECK(worker->call_sites[0].count == 3);
  CHECK(worker->call_sites[1].stack_id == 12);
  CHECK(worker->call_sites[1].count == 2);
  CHECK(worker->call_sites[2].stack_id == 13);
  for (const LingerGroup::CallSiteCount& site : worker->call_sites) {
    CHECK(site.captured_in == kServer);
    CHECK(site.exe == sockleak::ExeId{777, (8u << 20) | 1, 0x5000});
  }
}

TEST_CASE("a group is named after the process name read at the last reconcile", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec)});

  SECTION("before any reconcile the name is empty") {
    const LingerReport report = table.report(kDefaults, kNow);
    REQUIRE(report.groups.size() == 1);
    CHECK(report.groups[0].name.empty());
  }
  SECTION("after a reconcile the holder's comm names the group") {
    reconcile(table, {holder_row(7, kServer, 5, "nginx")});
    const LingerReport report = table.report(kDefaults, kNow);
    REQUIRE(report.groups.size() == 1);
    CHECK(report.groups[0].name == "nginx");
  }
}

TEST_CASE("rows without the holder flag do not make a process a holder at reconcile",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec)});
  sl_sock_row not_a_holder = holder_row(7, kWorker, 9, "worker");
  not_a_holder.flags = 0;
  reconcile(table, {holder_row(7, kServer, 5, "server"), not_a_holder});

  const LingerReport report = table.report(kDefaults, kNow);

  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].process == kServer);
}

// ---- events ----

TEST_CASE("a lingering socket that moves to LAST_ACK leaves the report", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec), close_wait_row(2, kServer, kNow - 40 * kSec)});
  reconcile(table, {holder_row(1, kServer, 5, "server"), holder_row(2, kServer, 6, "server")});

  table.apply(state_event(1, kServer, kTcpCloseWait, kTcpLastAck));

  CHECK(table.lingering() == 1);
  const LingerReport report = table.report(kDefaults, kNow);
  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].count == 1);
  CHECK(report.totals.close_wait == 1);
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
  CHECK(table.counters().events == 1);
}

TEST_CASE("a lingering ESTABLISHED socket that moves to CLOSE_WAIT leaves the report until the next scan",
          "[socket_table]") {
  SocketTable table;
  scan(table, {established_row(1, kServer, 400'000)});
  REQUIRE(table.report(kDefaults, kNow).totals.established == 1);

  table.apply(state_event(1, kServer, kTcpEstablished, kTcpCloseWait));

  CHECK(table.lingering() == 0);
  CHECK(table.report(kDefaults, kNow).totals.established == 0);
}

TEST_CASE("an fd close by one of two holders removes only that holder", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec)});
  reconcile(table, {holder_row(7, kServer, 5, "server"), holder_row(7, kWorker, 9, "worker")});

  table.apply(fd_close_event(7, kWorker, 9));

  const LingerReport report = table.report(kDefaults, kNow);
  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].process == kServer);
  CHECK(report.totals.close_wait == 1);
  CHECK(report.totals.unowned == 0);
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
}

TEST_CASE("events about sockets that do not linger leave the report as it is, without counting anything",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec)});
  // Socket 8 is held by two processes and does not linger (yet).
  reconcile(table, {holder_row(7, kServer, 5, "server"), holder_row(8, kServer, 6, "server"),
                    holder_row(8, kWorker, 9, "worker")});
  REQUIRE(table.report(kDefaults, kNow).totals.close_wait == 1);
  const auto before = table.counters();

  // A busy host: sockets sockleak tracks but that do not linger come and go, and one
  // holder of socket 8 closes it.
  for (uint64_t cookie = 100; cookie < 200; ++cookie) table.apply(state_event(cookie, kServer, 1, 4));
  table.apply(fd_close_event(8, kWorker, 9));
  const LingerReport same = table.report(kDefaults, kNow + kSec);
  CHECK(table.counters().shares_counted == before.shares_counted);
  CHECK(same.totals.close_wait == 1);
  CHECK(same.groups.size() == 1);
  CHECK(table.counters().events == 101);

  // Socket 8 lingers later: reported under the holder that kept it only, counted alone.
  const std::vector<sl_sock_row> lingers = {close_wait_row(8, kServer, kNow - 40 * kSec)};
  table.apply_scan(lingers, kNow + 2 * kSec, SocketTable::ScanRows::kChanges);
  const LingerReport later = table.report(kDefaults, kNow + 2 * kSec);
  CHECK(table.counters().shares_counted == before.shares_counted + 1);
  REQUIRE(later.groups.size() == 1);
  CHECK(later.groups[0].process == kServer);
  CHECK(later.groups[0].count == 2);

  // An event about a lingering socket counts it out.
  table.apply(state_event(7, kServer, kTcpCloseWait, kTcpLastAck));
  CHECK(table.report(kDefaults, kNow + 3 * kSec).groups[0].count == 1);
  CHECK(table.counters().shares_counted == before.shares_counted + 2);
  CHECK(table.counters().report_rebuilds == before.report_rebuilds);
}

TEST_CASE("close tracking is needed while a lingering socket has two holder processes, not for dups of one",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec), close_wait_row(8, kServer, kNow - 60 * kSec)});
  CHECK_FALSE(table.shared_holders());
  CHECK(table.holding() == std::set<ProcessKey>{kServer});  // the owner, until a reconcile says more
  // Socket 8 in two fds of one process: a close() of one leaves it held by the same process.
  reconcile(table, {holder_row(7, kServer, 5, "server"), holder_row(8, kServer, 6, "server"),
                    holder_row(8, kServer, 10, "server")});
  CHECK_FALSE(table.shared_holders());
  CHECK(table.holding() == std::set<ProcessKey>{kServer});

  reconcile(table, {holder_row(7, kServer, 5, "server"), holder_row(7, kWorker, 9, "worker"),
                    holder_row(8, kServer, 6, "server")});
  CHECK(table.shared_holders());
  CHECK(table.holding() == std::set<ProcessKey>{kServer, kWorker});

  table.apply(fd_close_event(7, kWorker, 9));
  CHECK_FALSE(table.shared_holders());
  CHECK(table.holding() == std::set<ProcessKey>{kServer});
  table.apply(state_event(7, kServer, 8, 9));  // LAST_ACK
  table.apply(state_event(8, kServer, 8, 9));
  CHECK(table.holding().empty());
}

TEST_CASE("the holders of shared lingering sockets are listed for a re-reading, which confirms or drops each",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec), close_wait_row(8, kServer, kNow - 60 * kSec)});
  CHECK(table.shared_holder_checks().empty());
  reconcile(table, {holder_row(7, kServer, 5, "server"), holder_row(7, kWorker, 9, "worker"),
                    holder_row(8, kServer, 6, "server")});
  std::vector<sockleak::HolderCheck> checks = table.shared_holder_checks();  // socket 7's two holders, not 8's one
  REQUIRE(checks.size() == 2);
  std::sort(checks.begin(), checks.end(), [](const sockleak::HolderCheck& a, const sockleak::HolderCheck& b) { return a.process < b.process; });
  CHECK(checks[0].cookie == 7);
  CHECK(checks[1].cookie == 7);
  CHECK(std::set<ProcessKey>{checks[0].process, checks[1].process} == std::set<ProcessKey>{kServer, kWorker});
  // The worker's table no longer has it; the server's has it twice (a dup since).
  for (const sockleak::HolderCheck& check : checks) table.confirm_holder(check, check.process == kWorker ? 0 : 2);
  CHECK_FALSE(table.shared_holders());
  CHECK(table.shared_holder_checks().empty());
  CHECK(table.holding() == std::set<ProcessKey>{kServer});
  const LingerReport report = table.report(kDefaults, kNow);
  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].process == kServer);
  CHECK(report.groups[0].count == 2);
  // One close of the two fds leaves the server holding it.
  table.apply(fd_close_event(7, kServer, 5));
  REQUIRE(table.report(kDefaults, kNow).groups.size() == 1);
  CHECK(table.report(kDefaults, kNow).groups[0].count == 2);
  CHECK(table.reconcile_needed([](const ProcessKey&) { return true; }) == SocketTable::Reconcile::kNone);

  // Shared again, then neither table has it (passed on with SCM_RIGHTS): not reported under
  // the owner it had; only a full reconcile can say who holds it now.
  reconcile(table, {holder_row(7, kServer, 5, "server"), holder_row(7, kWorker, 9, "worker"),
                    holder_row(8, kServer, 6, "server")});
  for (const sockleak::HolderCheck& check : table.shared_holder_checks()) table.confirm_holder(check, 0);
  CHECK(table.reconcile_needed([](const ProcessKey&) { return true; }) == SocketTable::Reconcile::kAll);
  for (const LingerGroup& g : table.report(kDefaults, kNow).groups) {
    if (g.process == kServer) CHECK(g.count == 1);  // socket 8 only
    CHECK(g.process != kWorker);
  }
}

TEST_CASE("a process holding a socket in two fds still holds it after closing one", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec)});
  reconcile(table, {holder_row(7, kServer, 5, "server"), holder_row(7, kServer, 6, "server")});

  table.apply(fd_close_event(7, kServer, 5));
  REQUIRE(table.report(kDefaults, kNow).groups.size() == 1);
  CHECK(table.report(kDefaults, kNow).groups[0].process == kServer);

  table.apply(fd_close_event(7, kServer, 6));
  const LingerReport report = table.report(kDefaults, kNow);
  CHECK(report.groups.empty());
  CHECK(report.totals.unowned == 1);
}

TEST_CASE("closing a dup the reconcile never saw keeps the holder once its fd table is checked",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec)});
  reconcile(table, {holder_row(7, kServer, 5, "server"), holder_row(7, kWorker, 9, "worker")});

  sl_event closed = fd_close_event(7, kServer, 12);  // fd 12: a dup made after the reconcile
  closed.inode = 4242;
  table.apply(closed);
  const std::vector<sockleak::HolderCheck> checks = table.take_holder_checks();
  REQUIRE(checks.size() == 1);
  CHECK(checks[0].process == kServer);
  CHECK(checks[0].inode == 4242);
  CHECK(table.take_holder_checks().empty());  // handed out once
  table.confirm_holder(checks[0], 1);          // /proc/PID/fd still links socket:[4242] once

  const LingerReport report = table.report(kDefaults, kNow);
  REQUIRE(report.groups.size() == 2);
  CHECK(report.totals.close_wait == 1);
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
}

TEST_CASE("a checked close that left no fd on the socket drops the holder", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec)});
  reconcile(table, {holder_row(7, kServer, 5, "server"), holder_row(7, kWorker, 9, "worker")});
  sl_event closed = fd_close_event(7, kWorker, 9);
  closed.inode = 4242;
  table.apply(closed);
  for (const sockleak::HolderCheck& check : table.take_holder_checks()) table.confirm_holder(check, 0);
  const LingerReport report = table.report(kDefaults, kNow);
  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].process == kServer);
}

TEST_CASE("an fd close from a reused pid does not remove the original holder", "[socket_table]") {
  const ProcessKey reused_pid{kWorker.pid, 99'000};
  SocketTable table;
  scan(table, {close_wait_row(7, kServer, kNow - 60 * kSec)});
  reconcile(table, {holder_row(7, kWorker, 9, "worker")});

  table.apply(fd_close_event(7, reused_pid, 9));

  const LingerReport report = table.report(kDefaults, kNow);
  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].process == kWorker);
}

// ---- when to reconcile ----

TEST_CASE("a newly lingering socket needs a reconcile until its holders are read from the fd tables",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  // The connect/accept owner alone is not trusted: a fork, dup2 or exec is invisible to events.
  CHECK(table.needs_reconcile(everyone_alive));

  reconcile(table, {holder_row(1, kServer, 5, "server")});
  CHECK_FALSE(table.needs_reconcile(everyone_alive));

  // A socket that starts lingering after the reconcile is uncertain again.
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec), close_wait_row(2, kServer, kNow - 35 * kSec)});
  CHECK(table.needs_reconcile(everyone_alive));
}

TEST_CASE("when the only holder of a socket closes it a reconcile is needed", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  reconcile(table, {holder_row(1, kServer, 5, "server")});
  REQUIRE_FALSE(table.needs_reconcile(everyone_alive));

  table.apply(fd_close_event(1, kServer, 5));

  CHECK(table.needs_reconcile(everyone_alive));
  const LingerReport report = table.report(kDefaults, kNow);
  CHECK(report.groups.empty());
  CHECK(report.totals.close_wait == 1);
  CHECK(report.totals.unowned == 1);
}

TEST_CASE("when the owner of an owner-only socket closes it the socket is reported unowned",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  REQUIRE(table.report(kDefaults, kNow).groups.size() == 1);

  table.apply(fd_close_event(1, kServer, 5));

  CHECK(table.needs_reconcile(everyone_alive));
  const LingerReport report = table.report(kDefaults, kNow);
  CHECK(report.groups.empty());
  CHECK(report.totals.close_wait == 1);
  CHECK(report.totals.unowned == 1);
}

TEST_CASE("an fd close by a process that does not hold the socket changes nothing", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  reconcile(table, {holder_row(1, kServer, 5, "server")});

  table.apply(fd_close_event(1, kWorker, 5));

  CHECK_FALSE(table.needs_reconcile(everyone_alive));
  const LingerReport report = table.report(kDefaults, kNow);
  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].process == kServer);
}

TEST_CASE("a socket whose owner is unknown needs a reconcile", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, ProcessKey{0, 12345}, kNow - 40 * kSec)});
  CHECK(table.needs_reconcile(everyone_alive));
}

TEST_CASE("close_range needs a reconcile until the next reconcile is applied", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  reconcile(table, {holder_row(1, kServer, 5, "server")});
  REQUIRE_FALSE(table.needs_reconcile(everyone_alive));

  table.apply(close_range_event(kServer, 3, ~0u));
  CHECK(table.needs_reconcile(everyone_alive));
  CHECK(table.needs_reconcile(everyone_alive));  // asking does not clear it

  reconcile(table, {holder_row(1, kServer, 5, "server")});
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
}

TEST_CASE("close_range on an empty table still needs a reconcile", "[socket_table]") {
  SocketTable table;
  REQUIRE_FALSE(table.needs_reconcile(everyone_alive));
  table.apply(close_range_event(kServer, 0, 10));
  CHECK(table.needs_reconcile(everyone_alive));
  reconcile(table, {});
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
}

TEST_CASE("an explicit reconcile request holds until a reconcile is applied", "[socket_table]") {
  SocketTable table;
  table.request_reconcile();
  CHECK(table.needs_reconcile(everyone_alive));
  reconcile(table, {});
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
}

TEST_CASE("a holder that has exited makes a reconcile needed", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  reconcile(table, {holder_row(1, kServer, 5, "server"), holder_row(1, kWorker, 9, "worker")});

  std::vector<ProcessKey> asked;
  const auto worker_exited = [&](const ProcessKey& k) {
    asked.push_back(k);
    return !(k == kWorker);
  };

  CHECK(table.needs_reconcile(worker_exited));
  // Liveness is asked by pid and start time, so a reused pid is not taken for the holder.
  CHECK(std::find(asked.begin(), asked.end(), kWorker) != asked.end());
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
}

// ---- reconcile corrections ----

TEST_CASE("the first reconcile counts a run and no corrections", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  reconcile(table, {holder_row(1, kServer, 5, "server")});
  CHECK(table.counters().reconciles == 1);
  CHECK(table.counters().reconcile_corrections == 0);
}

TEST_CASE("a reconcile that agrees with the event-built holders corrects nothing", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  reconcile(table, {holder_row(1, kServer, 5, "server"), holder_row(1, kWorker, 9, "worker")});

  table.apply(fd_close_event(1, kWorker, 9));
  reconcile(table, {holder_row(1, kServer, 5, "server")});

  CHECK(table.counters().reconciles == 2);
  CHECK(table.counters().reconcile_corrections == 0);
}

TEST_CASE("a reconcile counts a correction for each socket whose holders differ from the event-built state",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec), close_wait_row(2, kServer, kNow - 40 * kSec),
               close_wait_row(3, kServer, kNow - 40 * kSec)});
  reconcile(table, {holder_row(1, kServer, 5, "server"), holder_row(2, kServer, 6, "server"),
                    holder_row(3, kServer, 7, "server")});

  // Socket 1 passed to the worker unseen; socket 2's close was missed; socket 3 unchanged.
  reconcile(table, {holder_row(1, kWorker, 9, "worker"), holder_row(3, kServer, 7, "server")});

  CHECK(table.counters().reconciles == 2);
  CHECK(table.counters().reconcile_corrections == 2);
  const LingerReport report = table.report(kDefaults, kNow);
  CHECK(find_group(report, kWorker, TcpState::kCloseWait) != nullptr);
  CHECK(report.totals.unowned == 1);  // socket 2
}

TEST_CASE("a reconcile counts a correction when a holder's fd count was wrong", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  reconcile(table, {holder_row(1, kServer, 5, "server")});
  reconcile(table, {holder_row(1, kServer, 5, "server"), holder_row(1, kServer, 6, "server")});
  CHECK(table.counters().reconcile_corrections == 1);
}

// Regression: found by this test, fixed in userspace/core/socket_table.cpp.
TEST_CASE("a reconcile confirming that the last holder closed the socket corrects nothing",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  reconcile(table, {holder_row(1, kServer, 5, "server")});

  table.apply(fd_close_event(1, kServer, 5));
  reconcile(table, {});

  CHECK(table.counters().reconcile_corrections == 0);
}

// ---- orphans ----

TEST_CASE("a lingering socket held by nobody after a reconcile counts as unowned and needs no further reconcile",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  table.apply(fd_close_event(1, kServer, 5));
  REQUIRE(table.needs_reconcile(everyone_alive));

  reconcile(table, {});

  CHECK_FALSE(table.needs_reconcile(everyone_alive));
  LingerReport report = table.report(kDefaults, kNow);
  CHECK(report.groups.empty());
  CHECK(report.totals.close_wait == 1);
  CHECK(report.totals.unowned == 1);

  // Still an orphan in the next scan, even if the scan row still names the old owner.
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)}, kNow + 10 * kSec);
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
  report = table.report(kDefaults, kNow + 10 * kSec);
  CHECK(report.groups.empty());
  CHECK(report.totals.unowned == 1);
}

TEST_CASE("an orphan whose owner has exited does not trigger a reconcile", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec)});
  reconcile(table, {});
  CHECK_FALSE(table.needs_reconcile([](const ProcessKey&) { return false; }));
}

TEST_CASE("a socket with an unknown owner becomes unowned after a reconcile finds no holder",
          "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, ProcessKey{0, 0}, kNow - 40 * kSec)});
  REQUIRE(table.needs_reconcile(everyone_alive));
  reconcile(table, {});
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
  CHECK(table.report(kDefaults, kNow).totals.unowned == 1);
}

TEST_CASE("an orphan that a later reconcile finds held is reported under its holder", "[socket_table]") {
  SocketTable table;
  scan(table, {close_wait_row(1, ProcessKey{0, 0}, kNow - 40 * kSec)});
  reconcile(table, {});
  reconcile(table, {holder_row(1, kWorker, 3, "worker")});

  const LingerReport report = table.report(kDefaults, kNow);
  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].process == kWorker);
  CHECK(report.totals.unowned == 0);
}

// ---- lower-bound ages ----

TEST_CASE("a CLOSE_WAIT age from a pre-existing socket is marked as a lower bound", "[socket_table]") {
  SocketTable table;
  scan(table, {with_flags(close_wait_row(1, kServer, kNow - 40 * kSec), SL_ROW_SINCE_LOWER)});

  const LingerReport report = table.report(kDefaults, kNow);

  REQUIRE(report.groups.size() == 1);
  CHECK(report.groups[0].oldest_is_lower_bound);
  CHECK(report.groups[0].oldest == 40s);
}

TEST_CASE("an ESTABLISHED idle age is never a lower bound", "[socket_table]") {
  SocketTable table;
  scan(table, {with_flags(established_row(1, kServer, 400'000), SL_ROW_SINCE_LOWER)});

  const LingerReport report = table.report(kDefaults, kNow);

  REQUIRE(report.groups.size() == 1);
  CHECK_FALSE(report.groups[0].oldest_is_lower_bound);
}

TEST_CASE("the lower-bound mark follows the oldest socket of a group", "[socket_table]") {
  SocketTable table;
  SECTION("oldest is a lower bound") {
    scan(table, {with_flags(close_wait_row(1, kServer, kNow - 90 * kSec), SL_ROW_SINCE_LOWER),
                 close_wait_row(2, kServer, kNow - 40 * kSec)});
    CHECK(table.report(kDefaults, kNow).groups.at(0).oldest_is_lower_bound);
  }
  SECTION("oldest is exact") {
    scan(table, {close_wait_row(1, kServer, kNow - 90 * kSec),
                 with_flags(close_wait_row(2, kServer, kNow - 40 * kSec), SL_ROW_SINCE_LOWER)});
    CHECK_FALSE(table.report(kDefaults, kNow).groups.at(0).oldest_is_lower_bound);
  }
}

// ---- misc ----

TEST_CASE("every applied event is counted", "[socket_table]") {
  SocketTable table;
  table.apply(state_event(1, kServer, kTcpEstablished, kTcpCloseWait));
  table.apply(fd_close_event(1, kServer, 3));
  table.apply(close_range_event(kServer, 3, 9));
  CHECK(table.counters().events == 3);
}

TEST_CASE("the scan records address family addresses and ports of both ends", "[socket_table]") {
  sl_sock_row row = close_wait_row(1, kServer, kNow - 40 * kSec);
  row.family = SL_AF_INET6;
  std::memset(row.peer_addr, 0, sizeof row.peer_addr);
  row.peer_addr[15] = 1;
  row.peer_port = 5432;
  row.rx_queue = 17;
  const sockleak::LingeringSocket s = sockleak::LingeringSocket::from_row(row, kNow);
  CHECK(s.cookie == 1);
  CHECK(s.state == TcpState::kCloseWait);
  CHECK(s.peer.family == SL_AF_INET6);
  CHECK(s.peer.address_string() == "::1");
  CHECK(s.peer.port == 5432);
  CHECK(s.local.port == 8080);
  CHECK(s.rx_queue == 17);
  CHECK(s.owner == kServer);
  CHECK(s.linger_start() == kNow - 40 * kSec);
}

TEST_CASE("a scan row without an owner pid has no owner start time", "[socket_table]") {
  const sockleak::LingeringSocket s =
      sockleak::LingeringSocket::from_row(close_wait_row(1, ProcessKey{0, 777}, kNow), kNow);
  CHECK(s.owner == ProcessKey{});
}

// ---- age histograms ----

TEST_CASE("an age lands in the first bucket whose upper bound holds it", "[histogram]") {
  sockleak::AgeHistogram h;
  h.add(0.5);
  h.add(1.0);  // bounds are inclusive (le)
  h.add(7.0);
  h.add(10.0);
  h.add(21600.0);
  CHECK(h.in_bucket[0] == 2);  // le 1
  CHECK(h.in_bucket[1] == 0);  // le 5
  CHECK(h.in_bucket[2] == 2);  // le 10
  CHECK(h.in_bucket[9] == 1);  // le 21600
  CHECK(h.count == 5);
  CHECK(h.sum_seconds == Approx(0.5 + 1 + 7 + 10 + 21600));
}

TEST_CASE("an age beyond the last bound is only in the count and the sum", "[histogram]") {
  sockleak::AgeHistogram h;
  h.add(100000.0);
  for (uint64_t n : h.in_bucket) CHECK(n == 0);
  CHECK(h.count == 1);
  CHECK(h.sum_seconds == Approx(100000.0));
}

TEST_CASE("the report fills an age histogram per state with each lingering socket once", "[histogram]") {
  SocketTable table;
  scan(table, {close_wait_row(1, kServer, kNow - 40 * kSec),      // 40s: le 60
               close_wait_row(2, kServer, kNow - 7 * kSec),       // below the 30s threshold
               close_wait_row(3, kServer, kNow - 4000 * kSec),    // 4000s: le 21600
               established_row(4, kWorker, 400'000),              // 400s idle: le 600
               established_row(5, kWorker, 60'000)});             // below the 5m threshold
  // Socket 1 is shared by two processes: two groups, one histogram entry.
  reconcile(table, {holder_row(1, kServer, 5, "server"), holder_row(1, kWorker, 9, "worker"),
                    holder_row(3, kServer, 6, "server"), holder_row(4, kWorker, 7, "worker")});

  const LingerReport report = table.report(kDefaults, kNow);
  REQUIRE(find_group(report, kServer, TcpState::kCloseWait) != nullptr);
  REQUIRE(find_group(report, kWorker, TcpState::kCloseWait) != nullptr);

  CHECK(report.close_wait_ages.count == 2);
  CHECK(report.close_wait_ages.count == report.totals.close_wait);
  CHECK(report.close_wait_ages.sum_seconds == Approx(4040.0));
  CHECK(report.close_wait_ages.in_bucket[4] == 1);  // le 60
  CHECK(report.close_wait_ages.in_bucket[9] == 1);  // le 21600

  CHECK(report.established_ages.count == 1);
  CHECK(report.established_ages.count == report.totals.established);
  CHECK(report.established_ages.sum_seconds == Approx(400.0));
  CHECK(report.established_ages.in_bucket[6] == 1);  // le 600
}

TEST_CASE("an unowned lingering socket still counts in the age histogram", "[histogram]") {
  SocketTable table;
  scan(table, {close_wait_row(1, ProcessKey{0, 0}, kNow - 40 * kSec)});
  reconcile(table, {});
  const LingerReport report = table.report(kDefaults, kNow);
  CHECK(report.groups.empty());
  CHECK(report.totals.unowned == 1);
  CHECK(report.close_wait_ages.count == 1);
  CHECK(report.established_ages.count == 0);
}

// ---- GroupFilter ----

TEST_CASE("an empty group filter accepts every group with at least one socket", "[filter]") {
  LingerGroup g;
  g.process = kServer;
  g.name = "server";
  g.count = 1;
  CHECK(GroupFilter{}.accepts(g));
  g.count = 0;
  CHECK_FALSE(GroupFilter{}.accepts(g));
}

TEST_CASE("a pid filter accepts only the listed pids", "[filter]") {
  GroupFilter filter;
  filter.pids = {100, 300};
  LingerGroup g;
  g.count = 1;
  g.process = kServer;  // pid 100
  CHECK(filter.accepts(g));
  g.process = kWorker;  // pid 200
  CHECK_FALSE(filter.accepts(g));
}

TEST_CASE("a comm filter accepts only the listed process names exactly", "[filter]") {
  GroupFilter filter;
  filter.comms = {"nginx"};
  LingerGroup g;
  g.count = 1;
  g.name = "nginx";
  CHECK(filter.accepts(g));
  g.name = "nginx-worker";
  CHECK_FALSE(filter.accepts(g));
  g.name = "";
  CHECK_FALSE(filter.accepts(g));
}

TEST_CASE("a min-count filter rejects groups with fewer sockets", "[filter]") {
  GroupFilter filter;
  filter.min_count = 3;
  LingerGroup g;
  g.count = 2;
  CHECK_FALSE(filter.accepts(g));
  g.count = 3;
  CHECK(filter.accepts(g));
}

TEST_CASE("pid comm and min-count filters must all accept", "[filter]") {
  GroupFilter filter;
  filter.pids = {100};
  filter.comms = {"server"};
  filter.min_count = 2;
  LingerGroup g;
  g.process = kServer;
  g.name = "server";
  g.count = 2;
  CHECK(filter.accepts(g));
  g.name = "other";
  CHECK_FALSE(filter.accepts(g));
  g.name = "server";
  g.process = kWorker;
  CHECK_FALSE(filter.accepts(g));
}

TEST_CASE("a scan of changes adds and updates sockets and drops retired ones; the rest stay as reported", "[table]") {
  SocketTable table;
  reconcile(table, {holder_row(1, kServer, 5, "srv"), holder_row(2, kServer, 6, "srv"), holder_row(3, kServer, 7, "srv")});
  scan(table, {close_wait_row(1, kServer, kNow - 60 * kSec), established_row(2, kServer, 600'000),
               established_row(3, kServer, 600'000)});
  REQUIRE(table.lingering() == 3);
  sl_sock_row retired{};
  retired.cookie = 3;
  retired.flags = SL_ROW_RETIRED;
  // Socket 2 was active and idle again past the threshold: reported anew with its idle time.
  table.apply_scan(std::vector<sl_sock_row>{retired, established_row(2, kServer, 400'000)}, kNow + kSec,
                   SocketTable::ScanRows::kChanges);
  CHECK(table.lingering() == 2);
  const LingerReport report = table.report(kDefaults, kNow + kSec);
  const LingerGroup* established = find_group(report, kServer, TcpState::kEstablished);
  REQUIRE(established);
  CHECK(established->count == 1);
  CHECK(established->oldest == std::chrono::seconds(400));
  const LingerGroup* close_wait = find_group(report, kServer, TcpState::kCloseWait);
  REQUIRE(close_wait);
  CHECK(close_wait->oldest == std::chrono::seconds(61));
  // An empty scan of changes changes nothing; a full one replaces the set.
  table.apply_scan(std::vector<sl_sock_row>{}, kNow + 2 * kSec, SocketTable::ScanRows::kChanges);
  CHECK(table.lingering() == 2);
  table.apply_scan(std::vector<sl_sock_row>{close_wait_row(1, kServer, kNow - 60 * kSec)}, kNow + 2 * kSec,
                   SocketTable::ScanRows::kAll);
  CHECK(table.lingering() == 1);
}

TEST_CASE("reports of an unchanged table age its sockets without rereading them, histograms included", "[table]") {
  SocketTable table;
  reconcile(table, {holder_row(1, kServer, 5, "srv"), holder_row(2, kServer, 6, "srv")});
  scan(table, {close_wait_row(1, kServer, kNow - 45 * kSec), close_wait_row(2, kServer, kNow - 50 * kSec)});
  const LingerReport first = table.report(kDefaults, kNow);
  const LingerReport later = table.report(kDefaults, kNow + 20 * kSec);
  const LingerGroup* g = find_group(later, kServer, TcpState::kCloseWait);
  REQUIRE(g);
  CHECK(g->count == 2);
  CHECK(g->oldest == std::chrono::seconds(70));
  // 45 s and 50 s: both in the (30, 60] bucket; 20 s later both in (60, 300].
  CHECK(first.close_wait_ages.in_bucket[4] == 2);
  CHECK(later.close_wait_ages.in_bucket[4] == 0);
  CHECK(later.close_wait_ages.in_bucket[5] == 2);
  CHECK(later.close_wait_ages.sum_seconds == Approx(135.0));
  // The same as a table built afresh at that time.
  SocketTable fresh;
  reconcile(fresh, {holder_row(1, kServer, 5, "srv"), holder_row(2, kServer, 6, "srv")});
  scan(fresh, {close_wait_row(1, kServer, kNow - 45 * kSec), close_wait_row(2, kServer, kNow - 50 * kSec)});
  const LingerReport direct = fresh.report(kDefaults, kNow + 20 * kSec);
  CHECK(direct.close_wait_ages.in_bucket == later.close_wait_ages.in_bucket);
  CHECK(find_group(direct, kServer, TcpState::kCloseWait)->oldest == g->oldest);
}

TEST_CASE("a reconciled socket below its threshold joins the report once it crosses it, with no change in between",
          "[table]") {
  SocketTable table;
  // Untracked (the kernel map was full): only reconciles see it, with no threshold applied.
  sl_sock_row held = with_flags(holder_row(7, kServer, 5, "srv"), SL_ROW_UNTRACKED);
  held.state = kTcpCloseWait;
  held.since_ns = kNow - 10 * kSec;
  table.apply_reconcile(std::vector<sl_sock_row>{held}, kNow);
  CHECK(table.report(kDefaults, kNow).totals.close_wait == 0);
  CHECK(table.report(kDefaults, kNow + 19 * kSec).totals.close_wait == 0);
  CHECK(table.report(kDefaults, kNow + 21 * kSec).totals.close_wait == 1);
}

// Rows a one-shot reconcile reads whole: sockets of two states, one held by two processes,
// one through two fds of one process, one below its threshold, peers and namespaces apart.
std::vector<sl_sock_row> read_whole_rows() {
  const auto whole = [](sl_sock_row row) { return with_flags(row, SL_ROW_UNTRACKED); };
  std::vector<sl_sock_row> rows;
  for (uint64_t cookie = 1; cookie <= 6; ++cookie) {
    sl_sock_row row = whole(holder_row(cookie, kServer, static_cast<uint32_t>(cookie), "srv"));
    row.since_ns = kNow - (40 + cookie) * kSec;
    row.rx_queue = cookie == 2 ? 10 : 0;
    if (cookie >= 5) row = with_peer(row, {10, 0, 0, 9}, 443);
    rows.push_back(row);
  }
  rows[3].netns = kHostNetns + 1;
  rows.push_back(whole(holder_row(3, kWorker, 4, "worker")));  // socket 3: a second process
  rows.back().since_ns = rows[2].since_ns;
  rows.push_back(rows[0]);  // socket 1: a second fd of the same process
  rows.back().fd = 9;
  sl_sock_row young = whole(holder_row(7, kServer, 7, "srv"));
  young.since_ns = kNow - 5 * kSec;
  rows.push_back(young);
  for (uint64_t cookie = 8; cookie <= 9; ++cookie) {
    sl_sock_row idle = whole(holder_row(cookie, kWorker, static_cast<uint32_t>(cookie), "worker"));
    idle.state = kTcpEstablished;
    idle.idle_ms = 600'000 + cookie;
    rows.push_back(idle);
  }
  return rows;
}

TEST_CASE("a one-shot table reports sockets read whole exactly as a table that keeps them", "[table]") {
  SocketTable kept;
  SocketTable one_shot;
  one_shot.set_one_shot(true);
  kept.apply_reconcile(read_whole_rows(), kNow);
  one_shot.apply_reconcile(read_whole_rows(), kNow);
  CHECK(one_shot.lingering() == 0);  // no socket entries
  CHECK(one_shot.untracked() == 9);
  CHECK(kept.untracked() == 9);
  // What the rows say, so the comparison below cannot pass on two empty reports.
  const LingerReport r = one_shot.report(kDefaults, kNow);
  CHECK(r.totals.close_wait == 6);  // socket 3 once, though two processes hold it; 7 is too young
  CHECK(r.totals.established == 2);
  CHECK(find_group(r, kServer, TcpState::kCloseWait)->count == 6);  // socket 1 once for two fds
  CHECK(find_group(r, kWorker, TcpState::kCloseWait)->count == 1);
  CHECK(find_group(r, kWorker, TcpState::kEstablished)->count == 2);
  for (uint64_t at : {kNow, kNow + 30 * kSec}) {
    check_same_report(one_shot.report(kDefaults, at), kept.report(kDefaults, at));
  }
  // The young socket joins once it crosses its threshold.
  CHECK(one_shot.report(kDefaults, kNow + 30 * kSec).totals.close_wait == 7);
}

TEST_CASE("a one-shot table counts a socket read whole that a scan read since once, under the holders read", "[table]") {
  SocketTable table;
  table.set_one_shot(true);
  table.apply_reconcile(read_whole_rows(), kNow);
  // Socket 3 entered the map meanwhile (the state hook) and a scan reported it, owner unknown.
  scan(table, {close_wait_row(3, ProcessKey{}, kNow - 43 * kSec)});
  const LingerReport r = table.report(kDefaults, kNow);
  CHECK(r.totals.close_wait == 6);
  CHECK(find_group(r, kWorker, TcpState::kCloseWait)->count == 1);
  CHECK(find_group(r, kServer, TcpState::kCloseWait)->count == 6);
  CHECK(r.totals.unowned == 0);
  // The next reconcile replaces what the last one read whole.
  table.apply_reconcile(std::vector<sl_sock_row>{}, kNow);
  CHECK(table.untracked() == 0);
}

TEST_CASE("a reconcile of new sockets settles their holders and leaves every other socket's as they were", "[table]") {
  SocketTable table;
  reconcile(table, {holder_row(1, kServer, 5, "srv"), holder_row(2, kWorker, 6, "wrk")});
  scan(table, {close_wait_row(1, kServer, kNow - 60 * kSec), close_wait_row(2, kWorker, kNow - 60 * kSec),
               close_wait_row(3, kWorker, kNow - 60 * kSec)});
  CHECK(table.reconcile_needed(everyone_alive) == SocketTable::Reconcile::kNew);  // 3: holders never read
  table.apply_reconcile(std::vector<sl_sock_row>{holder_row(3, kServer, 9, "srv")}, kNow,
                        SocketTable::HolderRows::kNew);
  CHECK(table.reconcile_needed(everyone_alive) == SocketTable::Reconcile::kNone);
  const LingerReport report = table.report(kDefaults, kNow);
  REQUIRE(find_group(report, kServer, TcpState::kCloseWait));
  CHECK(find_group(report, kServer, TcpState::kCloseWait)->count == 2);  // 1 and 3
  REQUIRE(find_group(report, kWorker, TcpState::kCloseWait));
  CHECK(find_group(report, kWorker, TcpState::kCloseWait)->count == 1);  // 2 kept
  CHECK(table.counters().reconcile_corrections == 0);
  // A holder that exited needs every holder re-read.
  CHECK(table.reconcile_needed([](const ProcessKey& p) { return p != kWorker; }) == SocketTable::Reconcile::kAll);
}
