// BPF tier (root): the object loads and attaches on this kernel, and each program
// does its job on a real loopback connection made by this test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/btf.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "core/event_decoder.h"
#include "kernel/bpf_monitor.h"
#include "kernel/kernel_probe.h"

using namespace std::chrono_literals;
using sockleak::BpfMonitor;

namespace {

// The kernel as probed, less what SOCKLEAK_DISABLE_FEATURES names (comma-separated), so the
// same cases prove the fallbacks older kernels take.
sockleak::BpfSettings settings() {
  sockleak::ProbeOptions probe;
  if (const char* env = std::getenv("SOCKLEAK_DISABLE_FEATURES")) {
    std::string names = env;
    for (size_t start = 0; start < names.size();) {
      size_t comma = names.find(',', start);
      if (comma == std::string::npos) comma = names.size();
      const auto feature = sockleak::feature_named(names.substr(start, comma - start));
      REQUIRE(feature);
      probe.disabled.insert(*feature);
      start = comma + 1;
    }
  }
  sockleak::BpfSettings s;
  s.features = sockleak::probe_kernel(probe);
  return s;
}

// A listening socket on a loopback port the kernel picks.
struct Listener {
  int fd = -1;
  sockaddr_in addr{};
  uint16_t port = 0;

  Listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(listen(fd, 8) == 0);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd); }
  int connect_client() const {
    const int client = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(client, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    return client;
  }
};

// A loopback connection whose server side is closed at once: the client end goes
// CLOSE_WAIT when the FIN arrives (in softirq), still held by this process.
struct CloseWaitPair {
  Listener listener;
  int client = -1;
  uint16_t port = listener.port;

  CloseWaitPair() {
    client = listener.connect_client();
    int served = accept(listener.fd, nullptr, nullptr);
    REQUIRE(served >= 0);
    close(served);
    std::this_thread::sleep_for(50ms);
  }
  ~CloseWaitPair() {
    if (client >= 0) close(client);
  }
};

// Call sites on for this process only, one socket in `sample` captured.
sockleak::BpfSettings own_call_sites(uint32_t sample) {
  sockleak::BpfSettings s = settings();
  s.stack_sample = sample;
  s.stack_tgid = static_cast<uint32_t>(getpid());
  return s;
}

uint16_t local_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  return ntohs(a.sin_port);
}

sockleak::Thresholds zero_thresholds() { return {std::chrono::nanoseconds(0), std::chrono::hours(24)}; }

// This process's holder row for fd.
const sl_sock_row* find_holder(const std::vector<sl_sock_row>& rows, uint32_t fd) {
  for (const sl_sock_row& row : rows) {
    if ((row.flags & SL_ROW_HOLDER) && row.fd == fd && row.tgid == static_cast<uint32_t>(getpid())) return &row;
  }
  return nullptr;
}

const sl_sock_row* find_peer_port(const std::vector<sl_sock_row>& rows, uint16_t port) {
  for (const sl_sock_row& row : rows) {
    if (row.peer_port == port) return &row;
  }
  return nullptr;
}

std::vector<sl_event> drain(BpfMonitor& bpf) {
  std::vector<sl_event> events;
  bpf.poll_events(100ms, [&](std::span<const std::byte> bytes) {
    if (auto ev = sockleak::decode_event(bytes)) events.push_back(*ev);
  });
  return events;
}

}  // namespace

TEST_CASE("the probes' reading of the kernel's BTF finds what libbpf's full parse finds", "[bpf]") {
  std::string error;
  const auto types = sockleak::load_kernel_types(&error);
  REQUIRE(types);
  struct BtfDeleter {
    void operator()(btf* b) const { btf__free(b); }
  };
  const std::unique_ptr<btf, BtfDeleter> libbpf(btf__load_vmlinux_btf());
  REQUIRE(libbpf);
  for (const auto& [name, kind] : std::vector<std::pair<const char*, uint32_t>>{
           {"btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF},
           {"btf_trace_sys_enter", BTF_KIND_TYPEDEF},
           {"bpf_iter_task_file", BTF_KIND_FUNC},
           {"bpf_iter_bpf_map_elem", BTF_KIND_FUNC},
           {"tcp_sock", BTF_KIND_STRUCT},
           {"no_such_type_here", BTF_KIND_STRUCT}}) {
    INFO(name);
    const int want = btf__find_by_name_kind(libbpf.get(), name, kind);  // -ENOENT if none
    CHECK(types->find(name, kind) == (want < 0 ? -1 : want));
  }
  const int socket = btf__find_by_name_kind(libbpf.get(), "socket", BTF_KIND_STRUCT);
  REQUIRE(socket > 0);
  const btf_type* t = btf__type_by_id(libbpf.get(), static_cast<__u32>(socket));
  int sk = -1;
  for (__u16 i = 0; i < btf_vlen(t); ++i) {
    if (std::strcmp(btf__name_by_offset(libbpf.get(), btf_members(t)[i].name_off), "sk") == 0) {
      sk = static_cast<int>(btf_member_bit_offset(t, i) / 8);
    }
  }
  CHECK(sk > 0);
  CHECK(types->member_offset("socket", "sk") == sk);
}

TEST_CASE("the BPF object loads and attaches its tracepoints and iterators on this kernel", "[bpf]") {
  BpfMonitor bpf(settings());
  CHECK(bpf.counters().events_lost == 0);
  CHECK_NOTHROW(bpf.scan_lingering(BpfMonitor::Scan::kAll));
  CHECK_NOTHROW(bpf.read_holders());
}

TEST_CASE("a CLOSE_WAIT socket made after attach is scanned with its exact entry time; holders come from reconciles",
          "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  CloseWaitPair pair;
  const auto rows = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  const sl_sock_row* row = find_peer_port(rows, pair.port);
  REQUIRE(row);
  CHECK(row->state == 8);  // TCP_CLOSE_WAIT
  CHECK(row->tgid == 0);   // entered CLOSE_WAIT in softirq: no owner is claimed
  CHECK((row->flags & SL_ROW_SINCE_LOWER) == 0);
  CHECK(row->family == AF_INET);
  CHECK(row->rx_queue == 1);  // the FIN
  CHECK(bpf.tracked_sockets() >= 1);
  const auto holders = bpf.read_holders();
  // In the map: a brief row, who holds it and nothing a scan says.
  const sl_sock_row* held = find_holder(holders, static_cast<uint32_t>(pair.client));
  REQUIRE(held);
  CHECK(held->cookie == row->cookie);
  CHECK(held->tgid == static_cast<uint32_t>(getpid()));
  CHECK((held->flags & SL_ROW_BRIEF) != 0);
  CHECK(held->state == 8);
}

TEST_CASE("sockets entering CLOSE_WAIT are all in the next scan, from the moment they entered it, notes sharing a "
          "slot too",
          "[bpf]") {
  sockleak::BpfSettings s = settings();
  s.close_wait_slot_bits = GENERATE(uint32_t{SL_CLOSE_WAIT_SLOT_BITS}, 4u);  // as run, and 16 slots: most notes share one
  BpfMonitor bpf(s);
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  auto monotonic = [] {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
  };
  // With no scan between, the hook settles each note it writes over.
  Listener listener;
  REQUIRE(listen(listener.fd, 512) == 0);
  struct Noted {
    int client;
    uint64_t from;
    uint64_t to;
  };
  std::map<uint16_t, Noted> by_port;
  constexpr int kSockets = 300;
  for (int i = 0; i < kSockets; ++i) {
    const int client = listener.connect_client();
    const int served = accept(listener.fd, nullptr, nullptr);
    REQUIRE(served >= 0);
    const uint16_t port = local_port(client);
    const uint64_t from = monotonic();
    close(served);
    char c = 0;
    ssize_t got = -1;
    for (int wait = 0; wait < 1000 && (got = recv(client, &c, 1, MSG_PEEK | MSG_DONTWAIT)) != 0; ++wait) {
      std::this_thread::sleep_for(1ms);  // until the FIN is in: CLOSE_WAIT
    }
    REQUIRE(got == 0);
    by_port[port] = {client, from, monotonic()};
  }
  size_t found = 0;
  for (const sl_sock_row& row : bpf.scan_lingering(BpfMonitor::Scan::kAll)) {
    auto it = by_port.find(row.local_port);
    if (row.peer_port != listener.port || it == by_port.end()) continue;
    ++found;
    CHECK(row.state == 8);  // TCP_CLOSE_WAIT
    CHECK((row.flags & SL_ROW_SINCE_LOWER) == 0);
    CHECK(row.since_ns >= it->second.from);
    CHECK(row.since_ns <= it->second.to);
  }
  CHECK(found == by_port.size());
  for (const auto& [port, noted] : by_port) close(noted.client);
}

TEST_CASE("short connections leave nothing in the map; ESTABLISHED sockets enter it through a reconcile", "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds({std::chrono::hours(1), std::chrono::milliseconds(0)}, 0ns);
  CloseWaitPair pair;  // the server side went ESTABLISHED -> FIN_WAIT: never tracked
  bpf.scan_lingering(BpfMonitor::Scan::kAll);
  CHECK(bpf.tracked_sockets() == 1);  // the CLOSE_WAIT client only
  Listener listener;
  const int client = listener.connect_client();
  const int served = accept(listener.fd, nullptr, nullptr);
  REQUIRE(served >= 0);
  const uint16_t port = listener.port;
  auto served_end = [port](const std::vector<sl_sock_row>& rows) {
    for (const sl_sock_row& row : rows) {
      if (row.local_port == port && row.state == 1) return true;
    }
    return false;
  };
  std::vector<sl_sock_row> scan = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  CHECK(!find_peer_port(scan, port));  // idle ESTABLISHED, not seen by a reconcile yet
  CHECK(!served_end(scan));
  bpf.read_holders();
  scan = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  CHECK(find_peer_port(scan, port));
  CHECK(served_end(scan));
  close(client);
  close(served);
}

TEST_CASE("sockets named by address: the address filter counts every map entry, and nothing else", "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  const bool by_address = !bpf.features().has(sockleak::Feature::kSocketCookie);
  Listener listener;
  REQUIRE(listen(listener.fd, 512) == 0);
  struct Connection {
    int client;
    int served;
  };
  std::vector<Connection> connections;
  for (int i = 0; i < 150; ++i) {
    const int client = listener.connect_client();
    const int served = accept(listener.fd, nullptr, nullptr);
    REQUIRE(served >= 0);
    connections.push_back({client, served});
  }
  bpf.read_holders();  // both ends of each enter the map, ESTABLISHED
  const auto before = bpf.read_address_filter();
  // A reading takes a syscall per slot and per entry (~50 ms at 100k entries): sockets
  // other processes open or close meanwhile make one reading disagree with itself. A
  // miscount stays in every reading; such a race passes with the next quiet one.
  const auto settled_reading = [&bpf, by_address] {
    auto reading = bpf.read_address_filter();
    for (int i = 0; by_address && i < 20 && (reading.counted != reading.entries || reading.uncounted_entries); ++i) {
      std::this_thread::sleep_for(20ms);
      reading = bpf.read_address_filter();
    }
    return reading;
  };
  // A third go CLOSE_WAIT (entries updated by the hook), a third close both ends (entries
  // deleted by the hook: found only through their slots' counts), a third stay.
  for (size_t i = 0; i < connections.size(); ++i) {
    if (i % 3 == 2) continue;
    close(connections[i].served);
    connections[i].served = -1;
    if (i % 3 == 1) {
      close(connections[i].client);
      connections[i].client = -1;
    }
  }
  std::this_thread::sleep_for(50ms);
  const auto held = settled_reading();  // before any scan could delete what the hook missed
  CloseWaitPair noted;  // entered CLOSE_WAIT outside the map: a note (bpf_loop kernels), settled by the scan
  bpf.scan_lingering(BpfMonitor::Scan::kAll);
  const auto scanned = settled_reading();
  if (by_address) {
    // The hook found and deleted the entries of both ends of the closed and of the served
    // ends of the CLOSE_WAIT ones: 150 (other processes' sockets may have closed too).
    CHECK(before.entries >= held.entries + 150);
    CHECK(held.counted == held.entries);
    CHECK(held.uncounted_entries == 0);
    CHECK(scanned.counted == scanned.entries);
    CHECK(scanned.uncounted_entries == 0);
  } else {
    CHECK(held.counted == 0);  // no filter: cookies skip sockets never added
  }
  for (Connection& c : connections) {
    if (c.client >= 0) close(c.client);
    if (c.served >= 0) close(c.served);
  }
  close(noted.client);
  noted.client = -1;
  std::this_thread::sleep_for(50ms);
  bpf.scan_lingering(BpfMonitor::Scan::kAll);
  const auto after = bpf.read_address_filter();
  if (by_address) {
    CHECK(after.counted == after.entries);
    CHECK(after.uncounted_entries == 0);
  } else {
    CHECK(after.counted == 0);
  }
}

TEST_CASE("scans of changes report a lingering socket once, and retire an idle one when it is active again",
          "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds({0ns, 0ms}, 0ns);  // every socket lingers; reported idle ones re-read at every scan
  CloseWaitPair pair;
  Listener listener;
  const int client = listener.connect_client();
  const int served = accept(listener.fd, nullptr, nullptr);
  REQUIRE(served >= 0);
  bpf.read_holders();  // seeds the idle ESTABLISHED pair
  auto rows_of = [](const std::vector<sl_sock_row>& rows, uint16_t port, uint32_t flags) {
    int n = 0;
    for (const sl_sock_row& row : rows) {
      if ((row.peer_port == port || row.local_port == port) && (row.flags & SL_ROW_RETIRED) == flags) ++n;
    }
    return n;
  };
  std::vector<sl_sock_row> scan = bpf.scan_lingering(BpfMonitor::Scan::kChanges);
  CHECK(rows_of(scan, pair.port, 0) == 1);      // the CLOSE_WAIT client
  CHECK(rows_of(scan, listener.port, 0) == 2);  // both idle ESTABLISHED ends
  std::this_thread::sleep_for(300ms);           // past the idle slack, so activity shows
  scan = bpf.scan_lingering(BpfMonitor::Scan::kChanges);
  CHECK(rows_of(scan, pair.port, 0) == 0);  // nothing new: a CLOSE_WAIT socket is not read again
  CHECK(rows_of(scan, listener.port, 0) == 0);
  // Data both ways: each end was active; an idle time of 0 ms still lingers at a 0 threshold,
  // so the scan reports both again with their new idle start.
  REQUIRE(write(client, "x", 1) == 1);
  std::this_thread::sleep_for(50ms);
  scan = bpf.scan_lingering(BpfMonitor::Scan::kChanges);
  CHECK(rows_of(scan, listener.port, 0) == 2);
  std::set<uint64_t> established;
  for (const sl_sock_row& row : scan) {
    if (row.local_port == listener.port || row.peer_port == listener.port) {
      CHECK(row.idle_ms < 200);
      established.insert(row.cookie);
    }
  }
  // With a real threshold, data the other way makes them active sockets that no longer
  // linger: retired (a row naming only the socket); the CLOSE_WAIT one (whose age is not
  // idle time) stays. (A threshold changed alone is for a full scan, as after a reload: a
  // recheck reads only whether data moved.)
  bpf.set_scan_thresholds({0ns, 1h}, 0ns);
  REQUIRE(write(served, "y", 1) == 1);
  std::this_thread::sleep_for(50ms);
  scan = bpf.scan_lingering(BpfMonitor::Scan::kChanges);
  std::set<uint64_t> retired;
  for (const sl_sock_row& row : scan) {
    if (row.flags & SL_ROW_RETIRED) retired.insert(row.cookie);
  }
  CHECK(retired == established);
  // A full scan still reads every lingering socket.
  scan = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  CHECK(rows_of(scan, pair.port, 0) == 1);
  CHECK(rows_of(scan, listener.port, 0) == 0);
  close(client);
  close(served);
}

TEST_CASE("keepalive probes answered on an idle connection are no activity: it still lingers", "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds({1h, 300ms}, 0ns);  // idle ESTABLISHED sockets re-read at every scan
  Listener listener;
  const int client = listener.connect_client();
  const int served = accept(listener.fd, nullptr, nullptr);
  REQUIRE(served >= 0);
  const int on = 1;
  const int second = 1;
  REQUIRE(setsockopt(client, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == 0);
  REQUIRE(setsockopt(client, IPPROTO_TCP, TCP_KEEPIDLE, &second, sizeof(second)) == 0);
  REQUIRE(setsockopt(client, IPPROTO_TCP, TCP_KEEPINTVL, &second, sizeof(second)) == 0);
  bpf.read_holders();
  std::this_thread::sleep_for(400ms);
  auto mine = [&](const std::vector<sl_sock_row>& rows) {
    int n = 0;
    for (const sl_sock_row& row : rows) {
      if (row.local_port == listener.port || row.peer_port == listener.port) ++n;
    }
    return n;
  };
  CHECK(mine(bpf.scan_lingering(BpfMonitor::Scan::kChanges)) == 2);  // both ends idle
  // The client probes after 1 s idle and every second after, and the peer answers each.
  tcp_info info{};
  socklen_t size = sizeof(info);
  for (int i = 0; i < 40; ++i) {
    std::this_thread::sleep_for(100ms);
    size = sizeof(info);
    REQUIRE(getsockopt(client, IPPROTO_TCP, TCP_INFO, &info, &size) == 0);
    if (info.tcpi_last_data_recv >= 1500 && info.tcpi_last_ack_recv < 500) break;
  }
  INFO("last data received " << info.tcpi_last_data_recv << " ms ago, last ACK " << info.tcpi_last_ack_recv);
  REQUIRE(info.tcpi_last_ack_recv < 500);  // a probe was answered: an ACK, with no data
  CHECK(mine(bpf.scan_lingering(BpfMonitor::Scan::kChanges)) == 0);  // neither retired nor reported again
  std::vector<sl_sock_row> all = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  CHECK(mine(all) == 2);
  for (const sl_sock_row& row : all) {
    if (row.local_port == listener.port || row.peer_port == listener.port) CHECK(row.idle_ms >= 1500);
  }
  close(client);
  close(served);
}

TEST_CASE("scans by loop pass the map over while nothing is due and no entry changed, and not after", "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);  // CLOSE_WAIT lingers at once; idle after a day
  const auto has_port = [](const std::vector<sl_sock_row>& rows, uint16_t port) {
    return std::any_of(rows.begin(), rows.end(), [port](const sl_sock_row& r) { return r.local_port == port || r.peer_port == port; });
  };
  // Scans of changes until one passes the map over (another process's socket entering
  // CLOSE_WAIT, or a tracked one changing state, is work for the next walk).
  const auto quiet = [&bpf] {
    for (int i = 0; i < 100; ++i) {
      const uint64_t runs = bpf.scan_runs();
      bpf.scan_lingering(BpfMonitor::Scan::kChanges);
      if (bpf.scan_runs() == runs) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  Listener listener;
  const int client = listener.connect_client();
  const int served = accept(listener.fd, nullptr, nullptr);
  REQUIRE(served >= 0);
  bpf.read_holders();  // both ends tracked, ESTABLISHED: due in a day
  bpf.scan_lingering(BpfMonitor::Scan::kChanges);
  if (bpf.scan_runs() == 0) {
    SUCCEED("scans by iterator here: walks in slices, nothing passed over");
    close(client);
    close(served);
    return;
  }
  REQUIRE(quiet());
  CHECK(bpf.scans_passed_over() > 0);
  // A tracked socket changes state (the state hook writes its entry): walked and reported.
  close(client);
  std::this_thread::sleep_for(50ms);
  CHECK(has_port(bpf.scan_lingering(BpfMonitor::Scan::kChanges), listener.port));  // served end, CLOSE_WAIT
  REQUIRE(quiet());
  // A socket new to the map (a CLOSE_WAIT note, settled into an entry before the scan).
  CloseWaitPair pair;
  CHECK(has_port(bpf.scan_lingering(BpfMonitor::Scan::kChanges), pair.port));
  CHECK(quiet());  // reported CLOSE_WAIT sockets are due never (their state events change them)
  close(served);
}

TEST_CASE("a scan of changes walks a large map in slices and names each new lingering socket once", "[bpf]") {
  sockleak::BpfSettings s = settings();
  s.scan_slice = SL_WALK_MARK;  // 4,096 entries per call
  // Scans by loop: rows drained while a run fills the ring, or each full ring ending a run.
  s.drain_while_scanning = GENERATE(true, false);
  BpfMonitor bpf(s);
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  Listener listener;
  std::vector<int> clients;
  constexpr size_t kSockets = 9000;  // two marks and a bit: three calls walk them
  for (size_t i = 0; i < kSockets; ++i) {
    const int client = listener.connect_client();
    const int served = accept(listener.fd, nullptr, nullptr);
    REQUIRE(served >= 0);
    close(served);  // the client end goes CLOSE_WAIT
    clients.push_back(client);
  }
  std::this_thread::sleep_for(200ms);
  std::multiset<uint64_t> seen;
  int calls = 0;
  for (; calls < 10; ++calls) {
    size_t mine = 0;
    for (const sl_sock_row& row : bpf.scan_lingering(BpfMonitor::Scan::kChanges)) {
      if (row.peer_port == listener.port) {
        seen.insert(row.cookie);
        ++mine;
      }
    }
    if (seen.size() >= kSockets && mine == 0) break;
  }
  CHECK(seen.size() == kSockets);
  CHECK(std::set<uint64_t>(seen.begin(), seen.end()).size() == kSockets);  // each once
  if (bpf.features().has(sockleak::Feature::kMapElemIterator)) {
    CHECK(calls >= 3);  // sliced: no single call walked them all
  } else {
    // By bpf_for_each_map_elem(), whose runs start at the map's first entry: whole walks,
    // one every as many calls as slices would take (3), none between.
    CHECK(calls == 1);
    // 9,000 rows are 1.5 MB, the ring 256 KiB: undrained, full rings ended runs that the
    // next ones resumed, and no row was lost or named twice (above).
    if (!s.drain_while_scanning) CHECK(bpf.scan_runs() >= 6);
  }
  CHECK(bpf.tracked_sockets() >= kSockets);
  {
    // One more lingering socket is named within the calls a whole walk takes.
    const int client = listener.connect_client();
    const int served = accept(listener.fd, nullptr, nullptr);
    REQUIRE(served >= 0);
    close(served);
    clients.push_back(client);
    std::this_thread::sleep_for(200ms);
    int until = 0;
    for (bool named = false; !named && until < 10; ++until) {
      for (const sl_sock_row& row : bpf.scan_lingering(BpfMonitor::Scan::kChanges)) {
        named = named || (row.peer_port == listener.port && !seen.contains(row.cookie));
      }
    }
    CHECK(until <= 3);
  }

  // Paced to one scan per recheck period, a slice covers the whole map: the walk under
  // way ends at the next call and the one after walks every entry, new ones included.
  bpf.set_scan_thresholds(zero_thresholds(), 1s, 1s);
  Listener later;
  std::vector<int> late_clients;
  for (int i = 0; i < 50; ++i) {
    late_clients.push_back(later.connect_client());
    const int served = accept(later.fd, nullptr, nullptr);
    REQUIRE(served >= 0);
    close(served);
  }
  std::this_thread::sleep_for(200ms);
  std::set<uint64_t> late;
  for (int call = 0; call < 2; ++call) {
    for (const sl_sock_row& row : bpf.scan_lingering(BpfMonitor::Scan::kChanges)) {
      if (row.peer_port == later.port) late.insert(row.cookie);
    }
  }
  CHECK(late.size() == late_clients.size());
  for (int fd : late_clients) close(fd);
  for (int fd : clients) close(fd);
}

TEST_CASE("connections reaching ESTABLISHED are counted, both ends", "[bpf]") {
  BpfMonitor bpf(settings());
  const uint64_t before = bpf.counters().established;
  Listener listener;
  const int client = listener.connect_client();
  const int served = accept(listener.fd, nullptr, nullptr);
  REQUIRE(served >= 0);
  // Other connections on the host may count too: at least this one's two ends.
  CHECK(bpf.counters().established >= before + 2);
  close(served);
  close(client);
}

TEST_CASE("forks are counted for the processes named as holders only, by pid and start time", "[bpf]") {
  BpfMonitor bpf(settings());
  Listener listener;
  const int client = listener.connect_client();
  const std::vector<sl_sock_row> rows = bpf.read_holders();
  const sl_sock_row* mine = find_holder(rows, static_cast<uint32_t>(client));
  REQUIRE(mine);
  const sockleak::ProcessKey me{mine->tgid, mine->proc_start};
  const auto forks = [&bpf] { return bpf.counters().holder_forks; };
  const auto fork_and_reap = [] {
    const pid_t child = fork();
    if (child == 0) _exit(0);
    REQUIRE(child > 0);
    waitpid(child, nullptr, 0);
  };
  const uint64_t before = forks();
  fork_and_reap();
  CHECK(forks() == before);  // not named

  REQUIRE(bpf.set_holder_processes({me}));
  fork_and_reap();
  std::thread([&] { fork_and_reap(); }).join();  // a fork from another thread of the process
  CHECK(forks() == before + 2);
  std::thread([] {}).join();  // a new thread is no fork
  CHECK(forks() == before + 2);

  // Another process that had this pid (a reused pid) is not this one.
  REQUIRE(bpf.set_holder_processes({sockleak::ProcessKey{me.pid, me.start_ns + 1}}));
  fork_and_reap();
  CHECK(forks() == before + 2);
  REQUIRE(bpf.set_holder_processes({}));
  fork_and_reap();
  CHECK(forks() == before + 2);

  // More holders than the kernel map takes: said, so that closes are watched instead.
  std::set<sockleak::ProcessKey> many;
  for (uint32_t pid = 1; pid <= SL_MAX_HOLDER_PROCESSES + 1; ++pid) many.insert({pid, 1});
  CHECK_FALSE(bpf.set_holder_processes(many));
  CHECK(bpf.set_holder_processes({me}));
  close(client);
}

TEST_CASE("a reconcile of new sockets sends only sockets it adds to the map, and listeners", "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  CloseWaitPair before;
  // Rows of sockets in the map are brief (who holds them): found by this process's fd.
  auto has_port = [](const std::vector<sl_sock_row>& rows, const CloseWaitPair& pair) {
    return find_holder(rows, static_cast<uint32_t>(pair.client)) != nullptr;
  };
  auto listener_rows = [](const std::vector<sl_sock_row>& rows, uint16_t port) {
    return std::count_if(rows.begin(), rows.end(), [port](const sl_sock_row& r) {
      return (r.flags & SL_ROW_LISTENER) && r.local_port == port;
    });
  };
  // The state hook made the CLOSE_WAIT entry: its holders were never sent, so they are now.
  std::vector<sl_sock_row> rows = bpf.read_holders(BpfMonitor::Holders::kNew);
  CHECK(has_port(rows, before));
  CHECK(listener_rows(rows, before.port) == 1);
  rows = bpf.read_holders(BpfMonitor::Holders::kNew);
  CHECK_FALSE(has_port(rows, before));  // sent once
  CHECK(listener_rows(rows, before.port) == 1);  // listeners every time
  CloseWaitPair after;
  rows = bpf.read_holders(BpfMonitor::Holders::kNew);
  CHECK(has_port(rows, after));
  CHECK_FALSE(has_port(rows, before));
  rows = bpf.read_holders(BpfMonitor::Holders::kAll);  // the whole truth
  CHECK(has_port(rows, after));
  CHECK(has_port(rows, before));
}

TEST_CASE("a reconcile of wanted sockets sends their holders and listeners, not other held sockets", "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  CloseWaitPair wanted;
  CloseWaitPair other;
  // A client whose non-blocking connect() nobody called again (Go, libuv): its struct
  // socket stays SS_CONNECTING, ESTABLISHED as it is; and its accepted server end.
  const int async_client = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int refused = connect(async_client, reinterpret_cast<const sockaddr*>(&other.listener.addr), sizeof other.listener.addr);
  REQUIRE((refused == 0 || errno == EINPROGRESS));
  const int async_server = accept(other.listener.fd, nullptr, nullptr);
  struct Closer {
    int a, b;
    ~Closer() {
      close(a);
      close(b);
    }
  } closer{async_client, async_server};
  REQUIRE(async_server >= 0);
  std::this_thread::sleep_for(50ms);
  // Their identities, as a whole reconcile names them (it adds the ESTABLISHED ones to the map).
  const std::vector<sl_sock_row> all = bpf.read_holders(BpfMonitor::Holders::kAll);
  const sl_sock_row* row = find_holder(all, static_cast<uint32_t>(wanted.client));
  REQUIRE(row != nullptr);
  const uint64_t cookie = row->cookie;
  std::vector<sl_sock_row> rows;
  const auto collect = [&rows](std::span<const sl_sock_row> chunk) { rows.insert(rows.end(), chunk.begin(), chunk.end()); };

  if (!bpf.features().has(sockleak::Feature::kSockFromFile)) {
    CHECK_FALSE(bpf.read_holders_of(std::vector<uint64_t>{cookie}, collect));  // the caller walks kNew instead
    CHECK(rows.empty());
    return;
  }
  REQUIRE(find_holder(all, static_cast<uint32_t>(async_client)) != nullptr);
  REQUIRE(bpf.read_holders_of(std::vector<uint64_t>{cookie}, collect));
  CHECK(find_holder(rows, static_cast<uint32_t>(wanted.client)) != nullptr);
  CHECK(find_holder(rows, static_cast<uint32_t>(other.client)) == nullptr);
  CHECK(find_holder(rows, static_cast<uint32_t>(async_client)) == nullptr);
  CHECK(find_holder(rows, static_cast<uint32_t>(async_server)) == nullptr);
  CHECK(std::count_if(rows.begin(), rows.end(), [&](const sl_sock_row& r) {
          return (r.flags & SL_ROW_LISTENER) && r.local_port == other.port;
        }) == 1);
  // Asked again: sent again (wanted is wanted, sent before or not); the map of wanted
  // sockets was emptied after the last walk, so the other stays out.
  rows.clear();
  REQUIRE(bpf.read_holders_of(std::vector<uint64_t>{cookie}, collect));
  CHECK(find_holder(rows, static_cast<uint32_t>(wanted.client)) != nullptr);
  CHECK(find_holder(rows, static_cast<uint32_t>(other.client)) == nullptr);
  // A socket the map does not have cannot be asked for by address.
  rows.clear();
  CHECK_FALSE(bpf.read_holders_of(std::vector<uint64_t>{cookie, 0xdeadbeefull}, collect));
  CHECK(rows.empty());
  // The next plain reconcile is not filtered.
  const std::vector<sl_sock_row> again = bpf.read_holders(BpfMonitor::Holders::kAll);
  CHECK(find_holder(again, static_cast<uint32_t>(other.client)) != nullptr);
  CHECK(find_holder(again, static_cast<uint32_t>(async_client)) != nullptr);
}

TEST_CASE("a reconcile of new sockets by address visits the connections established since the marks", "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  Listener listener;
  // An open connection, both ends held: its holder rows are found by this process's fds.
  struct Connection {
    int client = -1;
    int served = -1;
    explicit Connection(const Listener& l) : client(l.connect_client()), served(accept(l.fd, nullptr, nullptr)) {
      REQUIRE(served >= 0);
    }
    ~Connection() {
      close(client);
      close(served);
    }
    bool both_in(const std::vector<sl_sock_row>& rows) const {
      return find_holder(rows, static_cast<uint32_t>(client)) && find_holder(rows, static_cast<uint32_t>(served));
    }
    bool none_in(const std::vector<sl_sock_row>& rows) const {
      return !find_holder(rows, static_cast<uint32_t>(client)) && !find_holder(rows, static_cast<uint32_t>(served));
    }
  };
  std::vector<sl_sock_row> rows;
  const auto collect = [&rows](std::span<const sl_sock_row> chunk) { rows.insert(rows.end(), chunk.begin(), chunk.end()); };
  const Connection older(listener);  // not in the map: no reconcile has walked since it began
  const std::vector<uint64_t> marks = bpf.new_sockets().marks();
  const Connection newer(listener);
  const Connection newest(listener);
  const sockleak::NewSockets news = bpf.new_sockets();
  const std::optional<std::vector<uint64_t>> fresh = news.since(marks);
  REQUIRE(fresh);
  CHECK(fresh->size() >= 4);  // both ends of two connections (and whatever else the host made)
  if (!bpf.features().has(sockleak::Feature::kSockFromFile)) {
    CHECK_FALSE(bpf.read_new_holders(*fresh, collect));  // the caller walks kNew instead
    CHECK(rows.empty());
    return;
  }
  REQUIRE(bpf.read_new_holders(*fresh, collect));
  CHECK(newer.both_in(rows));
  CHECK(newest.both_in(rows));
  CHECK(older.none_in(rows));  // not new since the marks: passed over by its address
  CHECK(std::count_if(rows.begin(), rows.end(), [&](const sl_sock_row& r) {
          return (r.flags & SL_ROW_LISTENER) && r.local_port == listener.port;
        }) == 1);
  // Added to the map by that walk: not sent again as new, even if asked for.
  rows.clear();
  REQUIRE(bpf.read_new_holders(*fresh, collect));
  CHECK(newer.none_in(rows));
  // A walk of every new socket still finds the older one.
  CHECK(older.both_in(bpf.read_holders(BpfMonitor::Holders::kNew)));

  // More connections on one CPU than half its notes hold: they cannot be named (the walk
  // of every new socket takes over). Pinned, so loopback handshakes run on this CPU.
  cpu_set_t before;
  REQUIRE(sched_getaffinity(0, sizeof before, &before) == 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
  const std::vector<uint64_t> later = bpf.new_sockets().marks();
  {
    Listener busy;
    REQUIRE(listen(busy.fd, 512) == 0);
    std::vector<std::unique_ptr<Connection>> many;
    for (int i = 0; i < SL_NEW_SLOTS / 2; ++i) many.push_back(std::make_unique<Connection>(busy));
    CHECK_FALSE(bpf.new_sockets().since(later));
  }
  REQUIRE(sched_setaffinity(0, sizeof before, &before) == 0);
}

TEST_CASE("task_file reconcile lists this process as holder of a socket made before attach, with a lower-bound age",
          "[bpf]") {
  CloseWaitPair pair;  // exists before the monitor
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  const auto holders = bpf.read_holders();
  const sl_sock_row* held = find_holder(holders, static_cast<uint32_t>(pair.client));
  REQUIRE(held);
  CHECK(held->tgid == static_cast<uint32_t>(getpid()));
  CHECK(held->fd == static_cast<uint32_t>(pair.client));
  CHECK((held->flags & SL_ROW_HOLDER) != 0);
  // Seeded by this walk: in the map now, so a brief row (its age, a lower bound, is the scan's).
  CHECK((held->flags & SL_ROW_BRIEF) != 0);
  const auto scan = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  const sl_sock_row* scanned = find_peer_port(scan, pair.port);
  REQUIRE(scanned);
  CHECK(scanned->cookie == held->cookie);
  CHECK((scanned->flags & SL_ROW_SINCE_LOWER) != 0);
}

TEST_CASE("a one-shot reconcile reads held sockets whole and leaves them out of the map", "[bpf]") {
  CloseWaitPair pair;
  sockleak::BpfSettings s = settings();
  s.read_only = true;
  BpfMonitor bpf(s);
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  const auto holders = bpf.read_holders();
  const sl_sock_row* held = find_holder(holders, static_cast<uint32_t>(pair.client));
  REQUIRE(held);
  CHECK((held->flags & SL_ROW_UNTRACKED) != 0);
  CHECK((held->flags & SL_ROW_BRIEF) == 0);
  CHECK(held->peer_port == pair.port);
  CHECK(held->state == 8);
  CHECK(held->rx_queue == 1);  // the FIN
  CHECK(held->comm[0] != '\0');
  CHECK_FALSE(find_peer_port(bpf.scan_lingering(BpfMonitor::Scan::kAll), pair.port));
}

TEST_CASE("closing an announced socket sends an fd-close event and a state-change event", "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  CloseWaitPair pair;
  const auto scan = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  const sl_sock_row* row = find_peer_port(scan, pair.port);
  REQUIRE(row);
  const uint64_t cookie = row->cookie;
  const int fd = pair.client;
  bpf.track_closes(true);
  CHECK(bpf.tracking_closes());
  close(pair.client);
  pair.client = -1;
  bool fd_close = false;
  bool left_close_wait = false;
  for (const sl_event& ev : drain(bpf)) {
    if (ev.cookie != cookie) continue;
    if (ev.kind == SL_EV_FD_CLOSE && ev.tgid == static_cast<uint32_t>(getpid()) &&
        ev.fd_first == static_cast<uint32_t>(fd)) {
      fd_close = true;
    }
    if (ev.kind == SL_EV_STATE && ev.old_state == 8 && ev.new_state == 9) left_close_wait = true;  // LAST_ACK
  }
  CHECK(fd_close);
  CHECK(left_close_wait);
}

TEST_CASE("closes are not watched unless asked: only the state change reports the close", "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  CloseWaitPair pair;
  const std::vector<sl_sock_row> scan = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  const sl_sock_row* row = find_peer_port(scan, pair.port);
  REQUIRE(row);
  const uint64_t cookie = row->cookie;
  bpf.track_closes(true);
  bpf.track_closes(false);
  CHECK(!bpf.tracking_closes());
  close(pair.client);
  pair.client = -1;
  bool state = false;
  for (const sl_event& ev : drain(bpf)) {
    CHECK(ev.kind != SL_EV_FD_CLOSE);
    state = state || (ev.cookie == cookie && ev.kind == SL_EV_STATE);
  }
  CHECK(state);
}

TEST_CASE("connections that never linger produce no ring-buffer events", "[bpf]") {
  BpfMonitor bpf(settings());
  bpf.set_scan_thresholds({std::chrono::hours(1), std::chrono::hours(1)}, 0ns);
  for (int i = 0; i < 20; ++i) {
    CloseWaitPair pair;
  }
  for (const sl_event& ev : drain(bpf)) CHECK(ev.kind == SL_EV_CLOSE_RANGE);
  CHECK(bpf.counters().events_lost == 0);
}

TEST_CASE("a call site is captured at connect and collected once its socket is gone", "[bpf]") {
  BpfMonitor bpf(own_call_sites(1));
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  uint32_t stack_id = SL_NO_STACK;
  {
    CloseWaitPair pair;
    const auto scan = bpf.scan_lingering(BpfMonitor::Scan::kAll);
    const sl_sock_row* row = find_peer_port(scan, pair.port);
    REQUIRE(row);
    stack_id = row->stack_id;
    REQUIRE(stack_id != SL_NO_STACK);
    CHECK(bpf.stack(stack_id).size() >= 2);
    // The capturer: this process and its executable file.
    struct stat exe {};
    REQUIRE(stat("/proc/self/exe", &exe) == 0);
    CHECK(row->capturer.tgid == static_cast<uint32_t>(getpid()));
    CHECK(row->capturer.start != 0);
    CHECK(row->capturer.exe_ino == exe.st_ino);
    CHECK(row->capturer.exe_dev == ((major(exe.st_dev) << 20) | minor(exe.st_dev)));
    CHECK(row->capturer.layout != 0);
    // The executables iterator describes this process exactly as the capture did.
    bool listed = false;
    for (const sl_capturer& p : bpf.read_executables()) {
      if (p.tgid != row->capturer.tgid) continue;
      listed = true;
      CHECK(p.start == row->capturer.start);
      CHECK(p.exe_ino == row->capturer.exe_ino);
      CHECK(p.exe_dev == row->capturer.exe_dev);
      CHECK(p.layout == row->capturer.layout);
    }
    CHECK(listed);
    bpf.collect_unused_stacks();  // may collect the accepted side's stack: that socket is closed
    CHECK(bpf.stack(stack_id).size() >= 2);  // still referenced by the CLOSE_WAIT socket
  }
  std::this_thread::sleep_for(200ms);  // LAST_ACK -> CLOSE after the peer's ACK
  const std::vector<uint32_t> collected = bpf.collect_unused_stacks();
  CHECK(std::find(collected.begin(), collected.end(), stack_id) != collected.end());
  CHECK(bpf.stack(stack_id).empty());
}

// The socket inode behind fd, as /proc/PID/fd names it.
TEST_CASE("a request that came with its FIN, first read in CLOSE_WAIT, names the read as its call site", "[bpf]") {
  BpfMonitor bpf(own_call_sites(1));
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  Listener listener;
  const int client = listener.connect_client();
  const int served = accept(listener.fd, nullptr, nullptr);
  REQUIRE(served >= 0);
  const uint16_t client_port = local_port(client);
  REQUIRE(write(client, "x", 1) == 1);
  close(client);  // the served end goes CLOSE_WAIT with the byte unread
  std::this_thread::sleep_for(50ms);
  char c = 0;
  REQUIRE(read(served, &c, 1) == 1);
  const auto scan = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  const auto row = std::find_if(scan.begin(), scan.end(), [&](const sl_sock_row& r) { return r.peer_port == client_port; });
  REQUIRE(row != scan.end());
  CHECK(row->state == 8);  // TCP_CLOSE_WAIT
  CHECK((row->flags & SL_ROW_SINCE_LOWER) == 0);
  CHECK(row->stack_id != SL_NO_STACK);
  close(served);
}

TEST_CASE("an accepted socket's call site is its first read; one socket in N is sampled by its address", "[bpf]") {
  constexpr uint32_t kSample = 4;
  BpfMonitor bpf(own_call_sites(kSample));
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  // The kernel's sampling rule, computed here from the socket's address in its map entry.
  const auto sampled = [&bpf](uint64_t cookie) {
    const std::optional<uint64_t> address = bpf.socket_address(cookie);
    REQUIRE(address);
    return sl_sample_hash(static_cast<uint32_t>(*address)) % kSample == 0;
  };
  Listener listener;
  constexpr int kPairs = 96;
  struct Pair {
    int client = -1, served = -1;
    uint16_t client_port = 0;
    bool read = false;  // the server read from its socket
  };
  std::vector<Pair> pairs(kPairs);
  for (int i = 0; i < kPairs; ++i) {
    Pair& p = pairs[i];
    p.client = listener.connect_client();
    p.served = accept(listener.fd, nullptr, nullptr);
    REQUIRE(p.served >= 0);
    p.client_port = local_port(p.client);
    if (i % 3 == 0) {
      // The server closes: the client lingers with its connect() stack, if sampled.
      close(p.served);
      p.served = -1;
    } else {
      // Served sockets read (or not), then the client closes: the served one lingers, with
      // the stack of its first read if sampled and read; accept() alone captures nothing.
      p.read = i % 3 == 1;
      if (p.read) {
        REQUIRE(write(p.client, "x", 1) == 1);
        char c = 0;
        REQUIRE(read(p.served, &c, 1) == 1);
      }
      close(p.client);
      p.client = -1;
    }
  }
  std::this_thread::sleep_for(100ms);
  const auto scan = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  int checked = 0, sampled_reads = 0, sampled_connects = 0, unsampled = 0;
  for (const Pair& p : pairs) {
    const sl_sock_row* row = nullptr;
    for (const sl_sock_row& r : scan) {
      const bool served_row = p.client < 0 && r.peer_port == p.client_port;
      const bool client_row = p.client >= 0 && r.local_port == p.client_port && r.peer_port == listener.port;
      if ((served_row || client_row) && r.state == 8) row = &r;  // TCP_CLOSE_WAIT
    }
    REQUIRE(row);
    INFO("pair client port " << p.client_port << (p.client < 0 ? " served side" : " client side")
                             << (p.read ? ", read" : ""));
    const bool is_sampled = sampled(row->cookie);
    const bool connected = p.client >= 0;
    const bool expect = is_sampled && (connected || p.read);
    sampled_connects += connected && is_sampled;
    sampled_reads += p.read && is_sampled;
    unsampled += (connected || p.read) && !is_sampled;
    CHECK((row->stack_id != SL_NO_STACK) == expect);
    if (expect) {
      CHECK(row->capturer.tgid == static_cast<uint32_t>(getpid()));
      CHECK(bpf.stack(row->stack_id).size() >= 2);
    }
    ++checked;
  }
  CHECK(checked == kPairs);
  // With 32 pairs of each kind, some are sampled and some are not (one in 4: all or none of
  // 32 would be a broken hash).
  CHECK(sampled_reads > 0);
  CHECK(sampled_connects > 0);
  CHECK(unsampled > 0);
  for (Pair& p : pairs) {
    if (p.client >= 0) close(p.client);
    if (p.served >= 0) close(p.served);
  }
}

TEST_CASE("a walk of some processes' fd tables sends theirs only, read whole, and adds nothing to the map",
          "[bpf]") {
  BpfMonitor bpf(settings());
  Listener listener;
  const int kept = listener.connect_client();     // the child closes its copy
  const int handed = listener.connect_client();   // this process closes its copy
  const int served_kept = accept(listener.fd, nullptr, nullptr);
  const int served_handed = accept(listener.fd, nullptr, nullptr);
  REQUIRE(served_kept >= 0);
  REQUIRE(served_handed >= 0);
  const uint16_t kept_port = local_port(kept);
  const uint16_t handed_port = local_port(handed);
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(kept);
    const char ok = 1;
    (void)!write(ready[1], &ok, 1);
    for (int i = 0; i < 200; ++i) usleep(50'000);  // bounded: 10 s
    _exit(0);
  }
  close(handed);
  char ok = 0;
  REQUIRE(read(ready[0], &ok, 1) == 1);
  const uint64_t tracked = bpf.read_address_filter().entries;
  auto walk = [&bpf](std::set<uint32_t> pids, std::vector<sl_sock_row>& rows) {
    return bpf.read_process_fds(pids, [&rows](std::span<const sl_sock_row> chunk) {
      rows.insert(rows.end(), chunk.begin(), chunk.end());
    });
  };
  auto holds = [](const std::vector<sl_sock_row>& rows, uint16_t port) {
    return std::any_of(rows.begin(), rows.end(), [port](const sl_sock_row& r) {
      return r.local_port == port && (r.flags & SL_ROW_HOLDER) && (r.flags & SL_ROW_UNTRACKED);
    });
  };
  std::vector<sl_sock_row> mine;
  std::vector<sl_sock_row> childs;
  const bool walked = walk({static_cast<uint32_t>(getpid())}, mine);
  CHECK(walk({static_cast<uint32_t>(child)}, childs) == walked);
  const uint64_t tracked_after = bpf.read_address_filter().entries;  // before the child's exit closes a socket
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  if (!bpf.features().has(sockleak::Feature::kProcessFileWalk)) {
    CHECK(!walked);  // the kernel's task iterators take no process to walk
  } else {
    REQUIRE(walked);
    CHECK(holds(mine, kept_port));
    CHECK(!holds(mine, handed_port));
    CHECK(holds(childs, handed_port));
    CHECK(!holds(childs, kept_port));
    for (const sl_sock_row& r : mine) CHECK(r.tgid == static_cast<uint32_t>(getpid()));
    for (const sl_sock_row& r : childs) CHECK(r.tgid == static_cast<uint32_t>(child));
    CHECK(tracked_after == tracked);  // read whole: nothing seeded
  }
  close(kept);
  close(served_kept);
  close(served_handed);
}

TEST_CASE("two processes sharing one fd table are each named in a reconcile", "[bpf]") {
  Listener listener;
  const int client = listener.connect_client();
  const int served = accept(listener.fd, nullptr, nullptr);
  REQUIRE(served >= 0);
  close(listener.fd);  // a listener's row always names its holder: only the pair's rows here
  listener.fd = -1;
  // clone(CLONE_FILES) without CLONE_THREAD: a process of its own on this one fd table.
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const long child = syscall(SYS_clone, CLONE_FILES | SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  REQUIRE(child >= 0);
  if (child == 0) {
    prctl(PR_SET_NAME, "sl_sharer");
    const char ok = 1;
    (void)!write(ready[1], &ok, 1);
    for (int i = 0; i < 200; ++i) usleep(50'000);  // bounded: 10 s
    _exit(0);
  }
  char ok = 0;
  REQUIRE(read(ready[0], &ok, 1) == 1);
  BpfMonitor bpf(settings());
  const auto rows = bpf.read_holders();
  std::set<std::string> child_names, own_names;
  char own[16] = {};
  prctl(PR_GET_NAME, own);
  for (const sl_sock_row& row : rows) {
    if (!(row.flags & SL_ROW_HOLDER) || row.comm[0] == '\0') continue;
    const std::string comm(row.comm, strnlen(row.comm, sizeof row.comm));
    if (row.tgid == static_cast<uint32_t>(child)) child_names.insert(comm);
    if (row.tgid == static_cast<uint32_t>(getpid())) own_names.insert(comm);
  }
  kill(static_cast<pid_t>(child), SIGKILL);
  waitpid(static_cast<pid_t>(child), nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  close(client);
  close(served);
  CHECK(child_names == std::set<std::string>{"sl_sharer"});
  CHECK(own_names == std::set<std::string>{own});
}

TEST_CASE("the kernel tick rate is measured at start-up and equals CONFIG_HZ where the config is readable", "[bpf]") {
  BpfMonitor bpf(settings());
  const sockleak::TickRate& rate = bpf.tick_rate();
  CHECK(rate.snapped);
  CHECK(std::abs(rate.measured_hz - rate.hz) / rate.hz < 0.06);
  // Ground truth only where this kernel publishes its config; sockleak itself never reads it.
  FILE* config = popen("zcat /proc/config.gz 2>/dev/null | sed -n 's/^CONFIG_HZ=//p'", "r");
  REQUIRE(config);
  char line[32] = {};
  const bool known = std::fgets(line, sizeof line, config) != nullptr;
  pclose(config);
  if (known) CHECK(rate.hz == static_cast<uint32_t>(std::atoi(line)));
}

TEST_CASE("the probed features decide the identity: cookies where offered, else socket addresses", "[bpf]") {
  sockleak::BpfSettings s = settings();
  BpfMonitor bpf(s);
  bpf.set_scan_thresholds(zero_thresholds(), 0ns);
  CloseWaitPair pair;
  const auto scan = bpf.scan_lingering(BpfMonitor::Scan::kAll);
  const sl_sock_row* row = find_peer_port(scan, pair.port);
  REQUIRE(row);
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  REQUIRE(getsockopt(pair.client, SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0);
  if (bpf.features().has(sockleak::Feature::kSocketCookie)) {
    CHECK(row->cookie == cookie);
  } else {
    CHECK(row->cookie != cookie);
    CHECK(row->cookie > 0xffff000000000000ull);  // a kernel address
  }
}
