// Reports kept up to date socket by socket must say exactly what a recount from scratch
// says, after any sequence of scans, reconciles, events and holder checks.
#include <catch2/catch.hpp>

#include <random>

#include "core/socket_table.h"
#include "core/sorted_bag.h"
#include "report_checks.h"
#include "table_fixtures.h"

using sockleak::LingerReport;
using sockleak::ProcessKey;
using sockleak::SocketTable;
using sockleak::SortedBag;
using sockleak::Thresholds;
using namespace sockleak::test;

TEST_CASE("a sorted bag applies adds and removals in batches, duplicates included", "[linger_tally]") {
  SortedBag<int> bag;
  for (int v : {5, 1, 5, 3}) bag.add(v);
  CHECK(bag.items() == std::vector<int>{1, 3, 5, 5});
  bag.remove(5);
  bag.add(2);
  bag.add(9);
  bag.remove(9);  // added and removed before a read: cancels out
  bag.remove(1);
  CHECK(bag.items() == std::vector<int>{2, 3, 5});
  CHECK(bag.unmatched_removals() == 0);
  bag.remove(4);  // never added: counted, nothing else removed
  CHECK(bag.items() == std::vector<int>{2, 3, 5});
  CHECK(bag.unmatched_removals() == 1);
}

TEST_CASE("a sorted bag matches a multiset over random batches", "[linger_tally]") {
  std::mt19937 rng(7);
  SortedBag<int> bag;
  std::multiset<int> model;
  for (int round = 0; round < 200; ++round) {
    const int changes = static_cast<int>(rng() % 20);
    for (int i = 0; i < changes; ++i) {
      const int v = static_cast<int>(rng() % 30);
      if (rng() % 3 == 0 && model.contains(v)) {
        model.erase(model.find(v));
        bag.remove(v);
      } else {
        model.insert(v);
        bag.add(v);
      }
    }
    REQUIRE(bag.items() == std::vector<int>(model.begin(), model.end()));
  }
  CHECK(bag.unmatched_removals() == 0);
}

TEST_CASE("a tally takes back exactly what was added, and counts a share never added", "[linger_tally]") {
  sockleak::LingerTally tally;
  const auto socket = sockleak::LingeringSocket::from_row(close_wait_row(7, kServer, kNow - 60 * kSec), kNow);
  const auto holders = sockleak::HolderSet::of(kServer);
  tally.add({socket, holders, {}});
  LingerReport r = tally.report(kNow, {});
  REQUIRE(r.groups.size() == 1);
  CHECK(r.groups[0].count == 1);
  CHECK(r.groups[0].oldest == std::chrono::seconds(60));
  CHECK(r.close_wait_ages.count == 1);
  tally.remove({socket, holders, {}});
  r = tally.report(kNow, {});
  CHECK(r.groups.empty());
  CHECK(r.totals.close_wait == 0);
  CHECK(r.close_wait_ages.count == 0);
  CHECK(tally.unmatched() == 0);
  tally.remove({socket, holders, {}});  // never added (again): counted, nothing goes negative
  r = tally.report(kNow, {});
  CHECK(tally.unmatched() > 0);
  CHECK(r.totals.close_wait == 0);
  CHECK(r.groups.empty());
}

namespace {

const ProcessKey kThird{300, 3'000};
const ProcessKey kProcesses[] = {kServer, kWorker, kThird};
const std::array<uint8_t, 4> kAny{0, 0, 0, 0};

// What the table reports now, against a copy of it that counts every socket afresh.
void require_same_as_recount(SocketTable& table, bool visible_only, const Thresholds& thresholds, uint64_t now) {
  SocketTable fresh = table;
  fresh.set_visible_only(visible_only);  // as it is: a change of it recounts everything
  check_same_report(table.report(thresholds, now), fresh.report(thresholds, now));
  CHECK(table.holding() == fresh.holding());
  CHECK(table.shared_holders() == fresh.shared_holders());
  CHECK(table.holders_unread() == fresh.holders_unread());
  CHECK(table.reconcile_needed(everyone_alive) == fresh.reconcile_needed(everyone_alive));
  REQUIRE(table.counters().tally_mismatches == 0);
}

// Random kernel facts about a few sockets, processes, peers and call sites, so that the
// same socket changes state, holders, reading and listener many times.
class Chaos {
 public:
  explicit Chaos(uint32_t seed) : rng_(seed) {}

  void step(SocketTable& table) {
    now_ += pick(3) * kSec;
    last_op = pick(9);
    switch (last_op) {
      case 0:
      case 1:
        table.apply_scan(scan_rows(), now_, SocketTable::ScanRows::kChanges);
        break;
      case 2:
        table.apply_scan(scan_rows(), now_, SocketTable::ScanRows::kAll);
        break;
      case 3:
        table.apply_reconcile(holder_rows(), now_,
                              pick(2) ? SocketTable::HolderRows::kAll : SocketTable::HolderRows::kNew);
        break;
      case 4:
        table.apply(state_event(cookie(), process(), kTcpEstablished, pick(2) ? kTcpCloseWait : kTcpLastAck));
        break;
      case 5:
      {
        sl_event close = fd_close_event(cookie(), process(), 5 + pick(3));
        close.inode = pick(2);  // a socket's inode: the fd table is checked for it
        table.apply(close);
        break;
      }
      case 6:
        for (const auto& check : table.take_holder_checks()) table.confirm_holder(check, pick(3));
        break;
      case 7:
        table.apply(close_range_event(process(), 3, 20));
        break;
      default:
        break;  // a report of an unchanged table
    }
  }
  uint64_t now() const { return now_; }
  uint32_t last_op = 0;
  uint32_t pick(uint32_t n) { return static_cast<uint32_t>(rng_() % n); }

 private:
  uint64_t cookie() { return 1 + pick(24); }
  ProcessKey process() { return kProcesses[pick(3)]; }
  sl_sock_row reading(uint64_t id) {
    sl_sock_row row = pick(2) ? close_wait_row(id, process(), now_ - (20 + pick(60)) * kSec)
                              : established_row(id, process(), (200 + pick(200)) * 1000);
    if (pick(4) == 0) row.tgid = 0;  // owner unknown
    row = with_peer(row, {10, 0, 0, static_cast<uint8_t>(pick(4))}, static_cast<uint16_t>(1000 + pick(3)));
    row.rx_queue = pick(3) == 0 ? pick(100) : 0;
    row.flags |= pick(3) == 0 ? SL_ROW_SINCE_LOWER : 0;
    row.netns = kHostNetns + pick(2);
    if (pick(3) == 0) {
      row.stack_id = pick(3);
      // One stack captured in two processes (forked workers): reported with the capture
      // most of its sockets have, whatever order they came in.
      row.capturer.tgid = 1000 + row.stack_id + 10 * pick(2);
      row.capturer.start = 7;
    } else {
      row.stack_id = SL_NO_STACK;
    }
    if (pick(6) == 0) {  // in a listener's accept queue, tagged or found by address
      row.flags |= SL_ROW_UNACCEPTED;
      row.listener = pick(2) ? 900 + pick(2) : 0;
    }
    return row;
  }
  std::vector<sl_sock_row> scan_rows() {
    std::vector<sl_sock_row> rows;
    for (uint32_t n = pick(8); n > 0; --n) {
      const uint64_t id = cookie();
      rows.push_back(pick(5) == 0 ? with_flags(base_row(id, ProcessKey{}, kTcpCloseWait), SL_ROW_RETIRED)
                                  : reading(id));
    }
    return rows;
  }
  std::vector<sl_sock_row> holder_rows() {
    std::vector<sl_sock_row> rows;
    for (uint32_t id = 900; id < 902; ++id) {
      if (pick(3)) rows.push_back(listener(id, process()));
    }
    for (uint32_t n = pick(20); n > 0; --n) {
      const ProcessKey holder = process();
      sl_sock_row row = holder_row(cookie(), holder, 5 + pick(3), "p" + std::to_string(holder.pid));
      if (pick(8) == 0) {  // the kernel map was full: read whole
        sl_sock_row whole = reading(row.cookie);
        whole.tgid = row.tgid;
        whole.proc_start = row.proc_start;
        whole.flags = SL_ROW_HOLDER | SL_ROW_UNTRACKED | (whole.flags & SL_ROW_SINCE_LOWER);
        std::memcpy(whole.comm, row.comm, sizeof row.comm);
        row = whole;
      }
      rows.push_back(row);
    }
    return rows;
  }
  sl_sock_row listener(uint64_t id, ProcessKey holder) {
    sl_sock_row row = holder_row(id, holder, 3, "server");
    row.state = 10;  // LISTEN
    row.flags = SL_ROW_HOLDER | SL_ROW_LISTENER;
    std::memset(row.local_addr, 0, sizeof row.local_addr);
    if (pick(2)) std::memcpy(row.local_addr, kAny.data(), kAny.size());
    else row.local_addr[0] = 127, row.local_addr[3] = 1;
    row.local_port = 8080;
    row.peer_port = 0;
    return row;
  }

  std::mt19937 rng_;
  uint64_t now_ = kNow;
};

}  // namespace

TEST_CASE("a report kept up to date socket by socket says what a recount from scratch says",
          "[linger_tally]") {
  const Thresholds loose{std::chrono::seconds(10), std::chrono::seconds(100)};
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    INFO("seed " << seed);
    SocketTable table;
    // Every third: inside a pid namespace, where sockets no visible process holds are left out.
    const bool visible_only = seed % 3 == 0;
    table.set_visible_only(visible_only);
    Chaos chaos(seed);
    for (int i = 0; i < 150; ++i) {
      chaos.step(table);
      INFO("step " << i << ", operation " << chaos.last_op);
      // Now and then other thresholds: a report with them recounts; the next one again.
      const Thresholds& t = chaos.pick(10) == 0 ? kDefaults : loose;
      require_same_as_recount(table, visible_only, t, chaos.now());
    }
  }
}

TEST_CASE("a change to one of many lingering sockets counts that socket again, not all of them",
          "[linger_tally]") {
  SocketTable table;
  std::vector<sl_sock_row> rows;
  for (uint64_t cookie = 1; cookie <= 1000; ++cookie) rows.push_back(close_wait_row(cookie, kServer, kNow - 60 * kSec));
  scan(table, rows);
  REQUIRE(table.report(kDefaults, kNow).totals.close_wait == 1000);
  const auto before = table.counters();

  table.apply(state_event(7, kServer, kTcpCloseWait, kTcpLastAck));  // one leaves
  const std::vector<sl_sock_row> one = {close_wait_row(2000, kWorker, kNow - 40 * kSec)};
  table.apply_scan(one, kNow + kSec, SocketTable::ScanRows::kChanges);  // one arrives
  const LingerReport report = table.report(kDefaults, kNow + kSec);
  CHECK(report.totals.close_wait == 1000);
  CHECK(find_group(report, kServer, sockleak::TcpState::kCloseWait)->count == 999);
  CHECK(find_group(report, kWorker, sockleak::TcpState::kCloseWait)->count == 1);
  const auto after = table.counters();
  CHECK(after.report_rebuilds == before.report_rebuilds);
  CHECK(after.shares_counted - before.shares_counted == 2);  // one out, one in
}

TEST_CASE("the lingering sockets whose holders are unread are named, for a reconcile of them only",
          "[linger_tally]") {
  SocketTable table;
  scan(table, {close_wait_row(7, ProcessKey{}, kNow - 60 * kSec), close_wait_row(8, ProcessKey{}, kNow - 60 * kSec)});
  auto unread = table.unread_holders();
  std::sort(unread.begin(), unread.end());
  CHECK(unread == std::vector<uint64_t>{7, 8});
  table.apply_reconcile(std::vector<sl_sock_row>{holder_row(7, kServer, 5, "server")}, kNow,
                        SocketTable::HolderRows::kNew);
  CHECK(table.unread_holders() == std::vector<uint64_t>{8});
  // A full reconcile that finds nobody holding 8: an orphan, known, not unread.
  table.apply_reconcile(std::vector<sl_sock_row>{holder_row(7, kServer, 5, "server")}, kNow,
                        SocketTable::HolderRows::kAll);
  CHECK(table.unread_holders().empty());
  CHECK_FALSE(table.holders_unread());

  // A socket the kernel map could not hold lingers: only walks of every new socket read it.
  scan(table, {close_wait_row(9, ProcessKey{}, kNow - 60 * kSec)});
  CHECK(table.unread_holders() == std::vector<uint64_t>{9});
  table.apply_reconcile(std::vector<sl_sock_row>{with_flags(holder_row(10, kServer, 6, "server"), SL_ROW_UNTRACKED)},
                        kNow, SocketTable::HolderRows::kNew);
  CHECK(table.holders_unread());
  CHECK(table.unread_holders().empty());
}
