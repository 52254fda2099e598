// Benchmark: the aggregator alone. Builds a table of --sockets tracked sockets (holder
// rows from a reconcile, plus lingering rows from a scan), then replays fd-close and
// state events. Prints events per second on one core and bytes of heap per tracked socket.
// Then the cost of reports at 100k lingering sockets in 6 processes, each with a peer of
// its own (client ports): the first (which counts every socket) and, median of 7, one
// after a lingering socket closed (which counts that one out).
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/socket_table.h"

using sockleak::SocketTable;

namespace {

size_t heap_in_use() {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

sl_sock_row row(uint64_t cookie, uint32_t pid, uint32_t state) {
  sl_sock_row r{};
  r.cookie = cookie;
  r.tgid = pid;
  r.proc_start = 1000 + pid;
  r.fd = static_cast<uint32_t>(cookie % 60000);
  r.state = state;
  r.flags = SL_ROW_HOLDER;
  r.family = 2;
  r.peer_port = static_cast<uint16_t>(8000 + cookie % 16);
  r.idle_ms = 600'000;
  std::strcpy(r.comm, "replay");
  return r;
}

struct ReportCosts {
  double first_ms = 0;   // counts every socket
  double change_ms = 0;  // median of 7 after one change each
};

ReportCosts report_costs() {
  constexpr size_t kLingering = 100'000;
  constexpr uint64_t kNow = 1'000'000'000'000;
  std::vector<sl_sock_row> holders;
  for (size_t i = 1; i <= kLingering; ++i) {
    sl_sock_row r = row(i, static_cast<uint32_t>(1 + i % 6), i % 2 ? 8 : 1);
    r.peer_addr[0] = 127;
    r.peer_addr[3] = static_cast<uint8_t>(1 + i % 3);
    r.peer_port = static_cast<uint16_t>(10000 + i % 50000);
    r.since_ns = kNow - 600'000'000'000;
    holders.push_back(r);
  }
  SocketTable table;
  table.apply_reconcile(holders);
  table.apply_scan(holders, kNow);
  const auto first = std::chrono::steady_clock::now();
  if (table.report({}, kNow).totals.close_wait == 0) std::exit(1);
  const double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - first).count();
  std::vector<double> ms;
  for (int round = 0; round < 7; ++round) {
    sl_event gone{};  // one lingering socket closes
    gone.kind = SL_EV_STATE;
    gone.cookie = holders[static_cast<size_t>(round)].cookie;
    gone.old_state = holders[static_cast<size_t>(round)].state;
    gone.new_state = 9;
    table.apply(gone);
    const auto start = std::chrono::steady_clock::now();
    const auto report = table.report({}, kNow + static_cast<uint64_t>(round) * 1'000'000'000);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    if (report.totals.close_wait + report.totals.established != kLingering - 1 - static_cast<size_t>(round)) {
      std::fprintf(stderr, "report counted %u sockets\n", report.totals.close_wait + report.totals.established);
      std::exit(1);
    }
  }
  std::sort(ms.begin(), ms.end());
  return {first_ms, ms[ms.size() / 2]};
}

}  // namespace

int main(int argc, char** argv) {
  const size_t sockets = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  std::vector<sl_sock_row> holders;
  std::vector<sl_sock_row> lingering;
  holders.reserve(sockets);
  for (size_t i = 1; i <= sockets; ++i) {
    holders.push_back(row(i, static_cast<uint32_t>(1 + i % 200), i % 2 ? 8 : 1));
    if (i % 2) lingering.push_back(holders.back());
  }

  const size_t before = heap_in_use();
  auto* table = new SocketTable();
  table->apply_reconcile(holders);
  table->apply_scan(lingering, 1'000'000'000'000);
  const size_t after = heap_in_use();

  // Events: every tracked socket's holder closes its fd, then the socket leaves its state.
  std::vector<sl_event> events;
  events.reserve(2 * sockets);
  for (const sl_sock_row& r : holders) {
    sl_event close{};
    close.kind = SL_EV_FD_CLOSE;
    close.cookie = r.cookie;
    close.tgid = r.tgid;
    close.proc_start = r.proc_start;
    close.fd_first = r.fd;
    events.push_back(close);
    sl_event state{};
    state.kind = SL_EV_STATE;
    state.cookie = r.cookie;
    state.old_state = r.state;
    state.new_state = 9;
    events.push_back(state);
  }
  const auto start = std::chrono::steady_clock::now();
  for (const sl_event& e : events) table->apply(e);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("sockets %zu\nbytes_per_tracked_socket %.0f\nevents_per_second %.0f\n", sockets,
              static_cast<double>(after - before) / static_cast<double>(sockets),
              static_cast<double>(events.size()) / seconds);
  delete table;
  const ReportCosts costs = report_costs();
  std::printf("report_first_ms_100k %.1f\nreport_after_change_ms_100k %.2f\n", costs.first_ms, costs.change_ms);
  return 0;
}
