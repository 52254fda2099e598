// Why sockets linger: unread data from kernel queues, the cause per group, and the
// `sockleak explain` page.
#include <catch2/catch.hpp>
#include <cstring>

#include "core/hints.h"
#include "core/socket_table.h"
#include "output/explain_page.h"

using namespace std::chrono_literals;
using sockleak::LingerCause;
using sockleak::SocketTable;
using sockleak::TcpState;

namespace {

constexpr uint64_t kSec = 1'000'000'000;
constexpr uint64_t kNow = 1000 * kSec;

sl_sock_row lingering_row(uint64_t cookie, uint32_t state, uint32_t rx_queue, uint16_t peer_port = 80) {
  sl_sock_row r{};
  r.cookie = cookie;
  r.tgid = 42;
  r.proc_start = 7;
  r.state = state;
  r.since_ns = kNow - 100 * kSec;
  r.idle_ms = 100'000;
  r.rx_queue = rx_queue;
  r.family = 2;
  r.peer_port = peer_port;
  r.peer_addr[0] = 10;
  r.peer_addr[3] = 1;
  r.fd = 3;
  r.flags = SL_ROW_HOLDER;
  std::strcpy(r.comm, "svc");
  return r;
}

sockleak::LingerGroup only_group(const std::vector<sl_sock_row>& rows) {
  SocketTable table;
  table.apply_scan(rows, kNow);
  table.apply_reconcile(rows, kNow);
  const auto report = table.report({1s, 1s}, kNow);
  REQUIRE(report.groups.size() == 1);
  return report.groups.front();
}

}  // namespace

TEST_CASE("a CLOSE_WAIT receive queue holding only the FIN has no unread data", "[cause]") {
  auto fin_only = sockleak::LingeringSocket::from_row(lingering_row(1, 8, 1), kNow);
  auto with_body = sockleak::LingeringSocket::from_row(lingering_row(2, 8, 101), kNow);
  auto established = sockleak::LingeringSocket::from_row(lingering_row(3, 1, 50), kNow);
  CHECK(fin_only.unread_bytes() == 0);
  CHECK(with_body.unread_bytes() == 100);
  CHECK(established.unread_bytes() == 50);
}

TEST_CASE("idle ESTABLISHED groups with mostly unread data are undrained, others idle", "[cause]") {
  std::vector<sl_sock_row> rows;
  for (uint64_t i = 1; i <= 10; ++i) rows.push_back(lingering_row(i, 1, i <= 6 ? 300 : 0));
  const auto undrained = only_group(rows);
  CHECK(undrained.unread_count == 6);
  CHECK(undrained.unread_bytes == 1800);
  CHECK(undrained.top_peers.front().unread == 6);
  CHECK(sockleak::linger_cause(undrained) == LingerCause::kUndrained);
  CHECK(sockleak::cause_name(LingerCause::kUndrained) == "undrained");
  CHECK_THAT(sockleak::linger_hint(undrained), Catch::Contains("unread data"));

  for (auto& r : rows) r.rx_queue = r.cookie <= 5 ? 300 : 0;  // exactly half: not "most"
  CHECK(sockleak::linger_cause(only_group(rows)) == LingerCause::kIdle);
}

TEST_CASE("CLOSE_WAIT groups are always caused by the peer closing first", "[cause]") {
  const auto g = only_group({lingering_row(1, 8, 1), lingering_row(2, 8, 1)});
  CHECK(sockleak::linger_cause(g) == LingerCause::kPeerClosed);
  CHECK(sockleak::cause_name(LingerCause::kPeerClosed) == "peer_closed");
  CHECK_THAT(std::string(sockleak::cause_advice(LingerCause::kPeerClosed)), Catch::Contains("Body.Close()"));
  CHECK_THAT(std::string(sockleak::cause_advice(LingerCause::kUndrained)), Catch::Contains("io.Discard"));
  CHECK_THAT(std::string(sockleak::cause_advice(LingerCause::kIdle)), Catch::Contains("MaxIdleConnsPerHost"));
}

TEST_CASE("the explain page names state, count, peers, cause, advice and fd headroom", "[cause][explain]") {
  sockleak::ReportRow row{only_group({lingering_row(1, 8, 1), lingering_row(2, 8, 1)}), {}, {}, {}};
  row.process.name = "svc";
  row.process.fd_open = 900;
  row.process.fd_limit = 1024;
  row.forecast.seconds_to_emfile = 600;
  row.forecast.leak_rate_per_minute = 12;
  row.forecast.hint = sockleak::linger_hint(row.group);
  const std::string page = sockleak::explain_page(42, row.process, {row}, {30s, 5min}, "3s");
  CHECK_THAT(page, Catch::StartsWith("sockleak explain: pid 42 (svc)"));
  CHECK_THAT(page, Catch::Contains("900 open of 1024") && Catch::Contains("87.9% used"));
  CHECK_THAT(page, Catch::Contains("EMFILE (\"too many open files\") in about 10.0 minutes"));
  CHECK_THAT(page, Catch::Contains("CLOSE_WAIT: 2 sockets, oldest 100.0s, +12.0/min"));
  CHECK_THAT(page, Catch::Contains("10.0.0.1:80 (2)"));
  CHECK_THAT(page, Catch::Contains("cause: peer_closed") && Catch::Contains("what to change:"));

  const std::string quiet = sockleak::explain_page(42, row.process, {}, {30s, 5min}, "0s");
  CHECK_THAT(quiet, Catch::Contains("Nothing lingers past the thresholds"));
  CHECK_THAT(quiet, Catch::Contains("not growing"));
}
