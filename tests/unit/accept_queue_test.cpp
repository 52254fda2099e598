// Sockets no process accepted: reported under the processes holding their listener, with
// its listen address, found by the reconcile's tag or else by the listener's address.
#include <catch2/catch.hpp>

#include "core/hints.h"
#include "core/socket_table.h"
#include "table_fixtures.h"

using sockleak::Endpoint;
using sockleak::LingerCause;
using sockleak::LingerGroup;
using sockleak::ProcessKey;
using sockleak::SocketTable;
using sockleak::TcpState;
using namespace sockleak::test;

namespace {

// A reconcile row: holder has listener `id` open, bound to address:port.
sl_sock_row listener_row(uint64_t id, ProcessKey holder, std::array<uint8_t, 4> address, uint16_t port = 8080,
                         uint32_t netns = kHostNetns) {
  sl_sock_row row = holder_row(id, holder, 3, "server");
  row.state = 10;  // LISTEN
  row.flags = SL_ROW_HOLDER | SL_ROW_LISTENER;
  std::memset(row.local_addr, 0, sizeof row.local_addr);
  std::memcpy(row.local_addr, address.data(), address.size());
  row.local_port = port;
  row.peer_port = 0;
  row.netns = netns;
  return row;
}

// A scan row: a CLOSE_WAIT socket (local 127.0.0.1:8080) in an accept queue, owned by nobody;
// listener is the reconcile's tag (0: not walked yet).
sl_sock_row queued_row(uint64_t cookie, uint64_t listener = 0) {
  sl_sock_row row = with_flags(close_wait_row(cookie, ProcessKey{}, kNow - 40 * kSec), SL_ROW_UNACCEPTED);
  row.listener = listener;
  return row;
}

const std::array<uint8_t, 4> kAny{0, 0, 0, 0};
const std::array<uint8_t, 4> kLoopback{127, 0, 0, 1};

std::vector<const LingerGroup*> groups_of(const sockleak::LingerReport& report, ProcessKey process) {
  std::vector<const LingerGroup*> found;
  for (const LingerGroup& g : report.groups) {
    if (g.process == process) found.push_back(&g);
  }
  return found;
}

}  // namespace

TEST_CASE("a socket found in a listener's queue is reported under the listener's holder, with its address",
          "[accept_queue]") {
  SocketTable table;
  reconcile(table, {listener_row(900, kServer, kAny)});
  scan(table, {queued_row(1, 900), queued_row(2, 900)});
  const auto report = table.report(kDefaults, kNow);
  const auto groups = groups_of(report, kServer);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0]->count == 2);
  REQUIRE(groups[0]->listen);
  CHECK(groups[0]->listen->to_string() == "0.0.0.0:8080");
  CHECK(sockleak::linger_cause(*groups[0]) == LingerCause::kNeverAccepted);
  CHECK(groups[0]->name == "server");
  CHECK(report.totals.unowned == 0);
  CHECK(report.totals.close_wait == 2);
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
}

TEST_CASE("an untagged queued socket goes to the listener bound to its address before a wildcard one",
          "[accept_queue]") {
  SocketTable table;
  reconcile(table, {listener_row(900, kServer, kAny), listener_row(901, kWorker, kLoopback)});
  scan(table, {queued_row(1)});
  const auto report = table.report(kDefaults, kNow);
  CHECK(groups_of(report, kServer).empty());
  REQUIRE(groups_of(report, kWorker).size() == 1);
  CHECK(groups_of(report, kWorker)[0]->listen->to_string() == "127.0.0.1:8080");
}

TEST_CASE("listeners on another port or in another network namespace never take a queued socket",
          "[accept_queue]") {
  SocketTable table;
  reconcile(table, {listener_row(900, kServer, kAny, 8081), listener_row(901, kWorker, kAny, 8080, 77)});
  scan(table, {queued_row(1)});
  const auto report = table.report(kDefaults, kNow);
  CHECK(report.groups.empty());
  CHECK(report.totals.unowned == 1);
}

TEST_CASE("listeners alike (SO_REUSEPORT) take an untagged socket only once a reconcile walked their queues",
          "[accept_queue]") {
  SocketTable table;
  reconcile(table, {listener_row(900, kServer, kAny), listener_row(901, kWorker, kAny)});
  scan(table, {queued_row(1)});
  auto report = table.report(kDefaults, kNow);
  CHECK(report.groups.empty());
  CHECK(report.totals.unowned == 1);
  CHECK(table.needs_reconcile(everyone_alive));
  // The walk tags it with the worker's listener.
  reconcile(table, {listener_row(900, kServer, kAny), listener_row(901, kWorker, kAny)});
  CHECK_FALSE(table.needs_reconcile(everyone_alive));  // read once: no reconcile per report
  scan(table, {queued_row(1, 901)});
  report = table.report(kDefaults, kNow);
  REQUIRE(groups_of(report, kWorker).size() == 1);
  CHECK(groups_of(report, kServer).empty());
}

TEST_CASE("held and never-accepted sockets of one process are separate records; a shared listener counts for each holder",
          "[accept_queue]") {
  SocketTable table;
  reconcile(table, {listener_row(900, kServer, kAny), listener_row(900, kWorker, kAny), holder_row(5, kServer, 7, "server")});
  scan(table, {queued_row(1, 900), close_wait_row(5, kServer, kNow - 40 * kSec)});
  const auto report = table.report(kDefaults, kNow);
  const auto server = groups_of(report, kServer);
  REQUIRE(server.size() == 2);
  CHECK(server[0]->count == 1);
  CHECK(server[1]->count == 1);
  CHECK(server[0]->listen.has_value() != server[1]->listen.has_value());
  REQUIRE(groups_of(report, kWorker).size() == 1);
  CHECK(groups_of(report, kWorker)[0]->listen);
  CHECK(report.totals.close_wait == 2);
}

TEST_CASE("a queued socket accepted since the last scan asks for a reconcile to learn who holds it", "[accept_queue]") {
  SocketTable table;
  reconcile(table, {listener_row(900, kServer, kAny)});
  scan(table, {queued_row(1, 900)});
  CHECK_FALSE(table.needs_reconcile(everyone_alive));
  scan(table, {close_wait_row(1, ProcessKey{}, kNow - 40 * kSec)});
  CHECK(table.needs_reconcile(everyone_alive));
}

TEST_CASE("a listener whose holder exited asks for a reconcile", "[accept_queue]") {
  SocketTable table;
  reconcile(table, {listener_row(900, kServer, kAny)});
  scan(table, {queued_row(1, 900)});
  CHECK(table.needs_reconcile([](const ProcessKey& p) { return p != kServer; }));
}

TEST_CASE("a queued socket of a listener two processes hold needs no close tracking; their forks count",
          "[accept_queue]") {
  SocketTable table;
  reconcile(table, {listener_row(900, kServer, kAny), listener_row(900, kWorker, kAny)});
  scan(table, {queued_row(1, 900)});
  CHECK(groups_of(table.report(kDefaults, kNow), kWorker).size() == 1);
  // Nobody closes a socket no one accepted by an fd of their own.
  CHECK_FALSE(table.shared_holders());
  CHECK(table.holding() == std::set<ProcessKey>{kServer, kWorker});
}
