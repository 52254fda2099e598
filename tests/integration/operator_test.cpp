// Root integration tests for operator outputs: the real /metrics endpoint during a real
// leak (checked by promtool), alerts that fire and resolve, the fd-exhaustion forecast,
// SIGHUP reload of --config and reopen of --output, and configuration errors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "child_process.h"
#include "sockleak_run.h"

using namespace std::chrono_literals;
using namespace sockleak::test;

namespace {


int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), len);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// The value of one exposition line "name{labels} value", or -1 when absent.
double metric(const std::string& body, const std::string& series) {
  const size_t at = body.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + series.size() + 2));
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("sockleak-test-" + std::to_string(getpid()) + "-" + name);
}

bool is_alert(const Record& r, const std::string& rule, pid_t pid, const std::string& status) {
  return r.value("type", "") == "alert" && r["alert"]["rule"] == rule && r["process"]["pid"] == pid &&
         r["alert"]["status"] == status;
}

// `sockleak run` with call sites on: CLOSE_WAIT past 1 s, a report every second.
const std::vector<std::string> kCallSiteRun{"run", "--close-wait", "1s", "--interval", "1s",
                                            "--duration", "60s", "--call-sites", "1"};

// The first linger record with exactly `count` CLOSE_WAIT sockets under pid.
Record close_wait_record(SockleakRun& sockleak, pid_t pid, int count) {
  auto record = sockleak.wait_for(
      [&](const Record& r) { return is_linger(r, pid, "CLOSE_WAIT") && r["socket"]["count"] == count; }, 15s);
  REQUIRE(record);
  return *record;
}

// The frames of a record's top call site, one per line.
std::string top_frames(const Record& record) {
  REQUIRE(record["call_sites"].size() >= 1);
  std::string frames;
  for (const auto& f : record["call_sites"][0]["frames"]) frames += f.get<std::string>() + "\n";
  return frames;
}

}  // namespace

TEST_CASE("the metrics endpoint reports a real leak with the kernel's counts and passes promtool", "[metrics]") {
  LoopbackServer server({"--idle-close-ms", "500"});
  const int port = free_port();
  SockleakRun sockleak({"run", "--close-wait", "1s", "--interval", "1s", "--duration", "60s", "--metrics-addr",
                        std::to_string(port)});
  ChildProcess client({HTTP_CLIENT_BIN, "--port", server.port, "--mode", "leak", "--count", "30"});
  expect_line_prefix(client, "READY ");
  const pid_t pid = client.pid();
  REQUIRE(sockleak.wait_for([&](const Record& r) { return is_linger(r, pid, "CLOSE_WAIT") && r["socket"]["count"] == 30; },
                            20s));
  sockleak.next_cycle(5s);  // metrics are published after the records of a cycle

  httplib::Client http("127.0.0.1", port);
  auto res = http.Get("/metrics");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type").find("version=0.0.4") != std::string::npos);
  const std::string body = "\n" + res->body;
  const std::string labels = "pid=\"" + std::to_string(pid) + "\",process=\"sl_http_client\",state=\"close_wait\"";
  CHECK(metric(body, "sockleak_process_lingering_sockets{" + labels + "}") == 30);
  CHECK(metric(body, "sockleak_process_oldest_linger_seconds{" + labels + "}") >= 1.0);
  CHECK(metric(body, "sockleak_lingering_sockets{state=\"close_wait\"}") == ss_total("close-wait"));
  CHECK(metric(body, "sockleak_linger_age_seconds_count{state=\"close_wait\"}") == ss_total("close-wait"));
  CHECK(metric(body, "sockleak_events_lost_total") == 0);
  CHECK(metric(body, "sockleak_alerts_firing{rule=\"close_wait_count\"}") >= 1);
  CHECK(metric(body, "sockleak_build_info{version=\"" SOCKLEAK_VERSION "\"}") == 1);
  CHECK(body.find("127.0.0.1") == std::string::npos);  // never addresses in labels

  const auto file = temp_path("metrics.txt");
  std::ofstream(file) << res->body;
  CHECK(std::system(("promtool check metrics < " + file.string() + " >/dev/null 2>&1").c_str()) == 0);
  std::filesystem::remove(file);

  // Bound to loopback only when no host is given.
  httplib::Client other_path("127.0.0.1", port);
  CHECK(other_path.Get("/nope")->status == 404);
}

TEST_CASE("an alert fires when a process crosses the CLOSE_WAIT count and resolves after it closes them",
          "[alerts]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  SockleakRun sockleak({"run", "--close-wait", "1s", "--interval", "1s", "--duration", "60s",
                        "--alert-close-wait-count", "20", "--alert-resolve-after", "2"});
  ChildProcess leaker({SOCKET_SCENARIOS_BIN, "--port", server.port, "--scenario", "plain", "--count", "25",
                       "--close-after-ms", "5000"});
  expect_line_prefix(leaker, "READY");
  const pid_t pid = leaker.pid();

  auto firing = sockleak.wait_for([&](const Record& r) { return is_alert(r, "close_wait_count", pid, "firing"); }, 15s);
  REQUIRE(firing);
  // Sockets cross --close-wait one by one: the report that fires may count 20..25 of them.
  CHECK((*firing)["alert"]["value"].get<int>() >= 20);
  CHECK((*firing)["alert"]["value"].get<int>() <= 25);
  CHECK((*firing)["alert"]["threshold"] == 20);
  const std::string id = (*firing)["alert"]["id"];
  CHECK(id.rfind("close_wait_count:" + std::to_string(pid) + ":", 0) == 0);

  expect_line_prefix(leaker, "CLOSED");
  const size_t closed_at = sockleak.seen().size();
  auto resolved = sockleak.wait_for([&](const Record& r) { return is_alert(r, "close_wait_count", pid, "resolved"); }, 15s);
  REQUIRE(resolved);
  CHECK((*resolved)["alert"]["id"] == id);
  // Hysteresis: at least one full report below the rule before resolving.
  int stats_between = 0;
  for (size_t i = closed_at; i < sockleak.seen().size(); ++i) stats_between += sockleak.seen()[i]["type"] == "stats";
  CHECK(stats_between >= 1);
  // Fired once, resolved once.
  int firings = 0;
  for (const Record& r : sockleak.seen()) firings += is_alert(r, "close_wait_count", pid, "firing");
  CHECK(firings == 1);
}

TEST_CASE("a process leaking towards its fd limit gets a leak rate, an EMFILE forecast and alerts", "[emfile]") {
  LoopbackServer server({"--idle-close-ms", "100"});
  SockleakRun sockleak({"run", "--close-wait", "500ms", "--interval", "1s", "--duration", "60s",
                        "--alert-close-wait-count", "0", "--alert-emfile-within", "10m"});
  // 70 connections, one per 100 ms, under RLIMIT_NOFILE 80.
  ChildProcess client({HTTP_CLIENT_BIN, "--port", server.port, "--mode", "leak", "--count", "70", "--interval-ms",
                       "100", "--nofile", "80"});
  const pid_t pid = client.pid();
  auto forecast = sockleak.wait_for(
      [&](const Record& r) {
        return is_linger(r, pid, "CLOSE_WAIT") && r["process"]["fd"]["exhaustion_eta_seconds"].is_number();
      },
      20s);
  REQUIRE(forecast);
  CHECK((*forecast)["process"]["fd"]["limit"] == 80);
  CHECK((*forecast)["process"]["fd"]["exhaustion_eta_seconds"].get<double>() > 0);
  CHECK((*forecast)["process"]["fd"]["exhaustion_eta_seconds"].get<double>() < 60);
  CHECK((*forecast)["socket"]["leak_rate_per_minute"].get<double>() > 100);  // ~600/min
  CHECK(sockleak.wait_for([&](const Record& r) { return is_alert(r, "emfile_soon", pid, "firing"); }, 10s));
  CHECK(sockleak.wait_for([&](const Record& r) { return is_alert(r, "fd_ratio", pid, "firing"); }, 15s));
}

TEST_CASE("SIGHUP reloads thresholds from --config without losing state and reopens --output", "[sighup]") {
  const auto config = temp_path("config.json");
  const auto output = temp_path("out.ndjson");
  std::filesystem::remove(output);
  std::ofstream(config) << R"({"close-wait": "1h", "interval": "1s", "duration": "60s"})";
  LoopbackServer server({"--idle-close-ms", "1"});
  ChildProcess sockleak({SOCKLEAK_BIN, "run", "--config", config.string(), "--output", output.string()});
  ChildProcess leaker({SOCKET_SCENARIOS_BIN, "--port", server.port, "--scenario", "plain", "--count", "12"});
  expect_line_prefix(leaker, "READY");
  std::this_thread::sleep_for(2500ms);

  auto read_records = [](const std::filesystem::path& p) {
    std::vector<Record> records;
    std::ifstream in(p);
    for (std::string line; std::getline(in, line);) records.push_back(Record::parse(line));
    return records;
  };
  auto lingers_for = [&](const std::vector<Record>& records) {
    int n = 0;
    for (const Record& r : records) n += is_linger(r, leaker.pid(), "CLOSE_WAIT");
    return n;
  };
  const auto before = read_records(output);
  REQUIRE(before.size() >= 2);  // stats records arrive; nothing lingers past 1h
  CHECK(lingers_for(before) == 0);

  std::filesystem::rename(output, output.string() + ".1");  // logrotate
  std::ofstream(config) << R"({"close-wait": "1s", "interval": "1s", "duration": "60s"})";
  sockleak.signal(SIGHUP);
  std::this_thread::sleep_for(2500ms);
  const auto after = read_records(output);
  REQUIRE(!after.empty());
  CHECK(lingers_for(after) >= 1);
  for (const Record& r : after) {
    if (is_linger(r, leaker.pid(), "CLOSE_WAIT")) {
      CHECK(r["socket"]["count"] == 12);
      CHECK(r["socket"]["threshold_seconds"] == 1.0);
    }
  }
  CHECK(after.back()["reconcile"]["runs"].get<int>() >= before.back()["reconcile"]["runs"].get<int>());

  sockleak.signal(SIGTERM);
  CHECK(sockleak.wait(5s) == 0);
  std::filesystem::remove(config);
  std::filesystem::remove(output);
  std::filesystem::remove(output.string() + ".1");
}

TEST_CASE("configuration errors exit 2 and name the key or flag", "[config_errors]") {
  const auto config = temp_path("bad.json");
  auto run_err = [](std::vector<std::string> argv) {
    argv.insert(argv.begin(), {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", SOCKLEAK_BIN});
    ChildProcess p(argv);
    std::string out;
    while (auto line = p.read_line(10s)) out += *line + "\n";
    return std::make_pair(p.wait(10s).value_or(-1), out);
  };
  std::ofstream(config) << R"({"close-wiat": "5s"})";
  auto [code, out] = run_err({"run", "--config", config.string()});
  CHECK(code == 2);
  CHECK(out.find("close-wiat") != std::string::npos);

  std::ofstream(config) << R"({"alert-fd-ratio": 3})";
  std::tie(code, out) = run_err({"run", "--config", config.string()});
  CHECK(code == 2);
  CHECK(out.find("alert-fd-ratio") != std::string::npos);

  // A port that is taken.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(listen(fd, 1) == 0);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::tie(code, out) = run_err({"run", "--metrics-addr", std::to_string(ntohs(addr.sin_port))});
  CHECK(code == 3);  // runtime, not usage: the unit restarts on it (RestartPreventExitStatus=2 77)
  CHECK(out.find("--metrics-addr") != std::string::npos);
  close(fd);
  std::filesystem::remove(config);
}

TEST_CASE("idle connections with unread responses are told apart from idle fully-read ones", "[undrained]") {
  LoopbackServer server({"--idle-close-ms", "0"});
  SockleakRun sockleak({"run", "--close-wait", "1h", "--established-idle", "1s", "--interval", "1s",
                        "--duration", "60s"});
  ChildProcess undrained({HTTP_CLIENT_BIN, "--port", server.port, "--mode", "leak", "--count", "10", "--read", "no"});
  ChildProcess drained({HTTP_CLIENT_BIN, "--port", server.port, "--mode", "leak", "--count", "10"});
  expect_line_prefix(undrained, "READY ");
  expect_line_prefix(drained, "READY ");
  auto a = sockleak.wait_for([&](const Record& r) { return is_linger(r, undrained.pid(), "ESTABLISHED") &&
                                                           r["socket"]["count"] == 10; }, 15s);
  auto b = sockleak.wait_for([&](const Record& r) { return is_linger(r, drained.pid(), "ESTABLISHED") &&
                                                           r["socket"]["count"] == 10; }, 15s);
  REQUIRE(a);
  REQUIRE(b);
  CHECK((*a)["socket"]["cause"] == "undrained");
  CHECK((*a)["socket"]["unread"]["count"] == 10);
  CHECK((*a)["socket"]["unread"]["bytes"].get<int>() > 0);
  CHECK((*a)["network"]["peers"][0]["unread"] == 10);
  CHECK((*b)["socket"]["cause"] == "idle");
  CHECK((*b)["socket"]["unread"]["count"] == 0);
}

TEST_CASE("explain PID prints one page naming the state, peer, cause and fix, and exits 1", "[explain]") {
  LoopbackServer server({"--idle-close-ms", "200"});
  ChildProcess client({HTTP_CLIENT_BIN, "--port", server.port, "--mode", "leak", "--count", "12"});
  expect_line_prefix(client, "READY ");
  std::this_thread::sleep_for(1500ms);
  ChildProcess explain({SOCKLEAK_BIN, "explain", std::to_string(client.pid()), "--close-wait", "1s", "--sample", "1s"});
  std::string page;
  while (auto line = explain.read_line(30s)) page += *line + "\n";
  CHECK(explain.wait(30s) == 1);
  INFO(page);
  CHECK(page.find("pid " + std::to_string(client.pid()) + " (sl_http_client)") != std::string::npos);
  CHECK(page.find("CLOSE_WAIT: 12 sockets") != std::string::npos);
  CHECK(page.find("127.0.0.1:" + server.port + " (12)") != std::string::npos);
  CHECK(page.find("never called close()") != std::string::npos);
  CHECK(page.find("File descriptors: ") != std::string::npos);

  ChildProcess clean({SOCKLEAK_BIN, "explain", std::to_string(server.process.pid()), "--sample", "0s"});
  std::string quiet;
  while (auto line = clean.read_line(30s)) quiet += *line + "\n";
  CHECK(clean.wait(30s) == 0);
  CHECK(quiet.find("Nothing lingers") != std::string::npos);
}

TEST_CASE("call sites name the function that leaked the sockets, not the one that closed them", "[call_sites]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  SockleakRun sockleak(kCallSiteRun);
  ChildProcess leaker({LEAK_SITE_BIN, server.port, "15"});
  expect_line_prefix(leaker, "READY");
  const Record record = close_wait_record(sockleak, leaker.pid(), 15);
  const std::string frames = top_frames(record);
  INFO(frames);
  CHECK(record["call_sites"][0]["count"] == 15);
  CHECK(frames.find("leaky_fetch") != std::string::npos);
  CHECK(frames.find("leak_site.c:") != std::string::npos);
  CHECK(frames.find("tidy_fetch") == std::string::npos);
}

TEST_CASE("call sites are named from the process that captured them, not an exec'd holder, even after it exited",
          "[exec_call_sites]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  SockleakRun sockleak(kCallSiteRun);
  ChildProcess leaker({LEAK_SITE_BIN, server.port, "8", "exec-holder"});
  const pid_t holder = std::stoi(expect_line_prefix(leaker, "HOLDER "));
  struct Reap {
    pid_t pid;
    ~Reap() { kill(pid, SIGKILL); }
  } reap{holder};
  expect_line_prefix(leaker, "READY");
  // Only sleep(1) holds the sockets: its own mappings know nothing of leaky_fetch.
  const Record held = close_wait_record(sockleak, holder, 8);
  CHECK(held["process"]["name"] == "sleep");
  CHECK(top_frames(held).find("leaky_fetch") != std::string::npos);
  leaker.close_stdin();  // the capturing process exits; the sleep keeps the sockets
  REQUIRE(leaker.wait(10s) == 0);
  sockleak.read_for(2500ms);  // reports made before the exit
  CHECK(top_frames(close_wait_record(sockleak, holder, 8)).find("leaky_fetch") != std::string::npos);
}

TEST_CASE("an accepted socket's call site is the server's read that took its request", "[accept_call_sites]") {
  // Accepted after sockleak attached, read once (the request), then left in CLOSE_WAIT.
  LoopbackServer server({"--idle-close-ms", "0", "--ignore-peer-close"});
  SockleakRun sockleak(kCallSiteRun);
  ChildProcess client({HTTP_CLIENT_BIN, "--port", server.port, "--mode", "close", "--count", "10"});
  expect_line_prefix(client, "READY ");
  const Record record = close_wait_record(sockleak, server.process.pid(), 10);
  const std::string frames = top_frames(record);
  INFO(frames);
  CHECK(record["call_sites"][0]["count"] == 10);
  CHECK(frames.rfind("read ", 0) == 0);  // innermost: libc's read()
  CHECK(frames.find("main (") != std::string::npos);  // the server's loop that called it
  CHECK(frames.find("http_server.cpp:") != std::string::npos);
}

TEST_CASE("call sites of a binary replaced on disk are named from the file the process mapped",
          "[replaced_call_sites]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("sl-replaced-" + std::to_string(getpid()));
  fs::create_directories(dir);
  struct RemoveDir {
    fs::path path;
    ~RemoveDir() { fs::remove_all(path); }
  } remove_dir{dir};
  const fs::path binary = dir / "sl_deployed";
  fs::copy_file(LEAK_SITE_BIN, binary);
  LoopbackServer server({"--idle-close-ms", "1"});
  SockleakRun sockleak(kCallSiteRun);
  ChildProcess leaker({binary.string(), server.port, "6"});
  expect_line_prefix(leaker, "READY");
  // A deploy: the new build is renamed over the path (the running inode is now "(deleted)"),
  // before sockleak first reports, so the old file can only be reached through the mapping.
  fs::copy_file(STRIPPED_LEAK_SITE_BIN, dir / "sl_deployed.new");
  fs::rename(dir / "sl_deployed.new", binary);
  const std::string frames = top_frames(close_wait_record(sockleak, leaker.pid(), 6));
  INFO(frames);
  CHECK(frames.find("leaky_fetch") != std::string::npos);
  CHECK(frames.find("leak_site.c:") != std::string::npos);
}

TEST_CASE("call sites name the Go function whose net.Dial connections leak", "[go_call_sites]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  SockleakRun sockleak(kCallSiteRun);
  ChildProcess leaker({GO_LEAKER_BIN, server.port, "12"});
  expect_line_prefix(leaker, "READY");
  const Record record = close_wait_record(sockleak, leaker.pid(), 12);
  const std::string frames = top_frames(record);
  INFO(frames);
  CHECK(record["call_sites"][0]["count"] == 12);
  CHECK(frames.find("main.leakDial") != std::string::npos);
  CHECK(frames.find("net.Dial") != std::string::npos);
  CHECK(frames.find("main.tidyDial") == std::string::npos);
}

TEST_CASE("Go net/http leaks are traced to the transport's dial, the process and the peer", "[go_http_call_sites]") {
  // Idle connections close after 300 ms: after the response, never before the request.
  LoopbackServer server({"--idle-close-ms", "300"});
  SockleakRun sockleak(kCallSiteRun);
  ChildProcess leaker({GO_LEAKER_BIN, server.port, "10", "http"});
  expect_line_prefix(leaker, "READY");
  const Record record = close_wait_record(sockleak, leaker.pid(), 10);
  CHECK(record["network"]["peers"][0]["port"] == std::stoi(server.port));
  const std::string frames = top_frames(record);
  INFO(frames);
  // The dial runs on a transport goroutine: the best signal on the stack is net/http's
  // dial; the caller that dropped the body (main.leakGet) is not on it.
  CHECK(frames.find("net/http.(*Transport).dial") != std::string::npos);
  CHECK(frames.find("main.leakGet") == std::string::npos);
}

TEST_CASE("call sites in a stripped binary keep addresses and the module's build-id", "[stripped_call_sites]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  SockleakRun sockleak(kCallSiteRun);
  ChildProcess leaker({STRIPPED_LEAK_SITE_BIN, server.port, "6"});
  expect_line_prefix(leaker, "READY");
  const std::string frames = top_frames(close_wait_record(sockleak, leaker.pid(), 6));
  INFO(frames);
  CHECK(frames.find("leaky_fetch") == std::string::npos);  // no symbols left to name it
  CHECK(frames.find("sl_leak_site_stripped build-id ") != std::string::npos);
  // The reported file address names the leak in the unstripped build of the same program.
  const size_t at = frames.find("0x", frames.find('\n'));  // skip libc's connect frame
  REQUIRE(at != std::string::npos);
  const std::string address = frames.substr(at, frames.find(' ', at) - at);
  const std::string named = run_command({"/usr/bin/env", "addr2line", "-f", "-e", LEAK_SITE_BIN, address});
  CHECK(named.rfind("leaky_fetch", 0) == 0);
}

namespace {

// A connection to 127.0.0.1:port that has sent `first` (maybe nothing) and then stalls.
int stalled_client(int port, const std::string& first) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  if (!first.empty()) REQUIRE(send(fd, first.data(), first.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(first.size()));
  return fd;
}

}  // namespace

TEST_CASE("200 slow or idle clients on /metrics neither delay a scrape nor stay connected", "[metrics_slow_clients]") {
  const int port = free_port();
  SockleakRun sockleak({"run", "--interval", "1s", "--duration", "60s", "--metrics-addr", std::to_string(port)});
  struct Fds {
    std::vector<int> fds;
    ~Fds() {
      for (int fd : fds) close(fd);
    }
  } stalled;
  for (int i = 0; i < 100; ++i) stalled.fds.push_back(stalled_client(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  for (int i = 0; i < 100; ++i) stalled.fds.push_back(stalled_client(port, ""));
  std::this_thread::sleep_for(200ms);  // all accepted and waiting
  for (int scrape = 0; scrape < 5; ++scrape) {
    const auto start = std::chrono::steady_clock::now();
    httplib::Client http("127.0.0.1", port);
    http.set_read_timeout(10, 0);
    auto res = http.Get("/metrics");
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find("sockleak_build_info") != std::string::npos);
    CHECK(took < 100ms);
  }
  // A header not sent within 5 s ends the connection: each stalled client sees EOF.
  std::this_thread::sleep_for(6s);
  int closed = 0;
  for (int fd : stalled.fds) {
    char byte;
    if (recv(fd, &byte, 1, MSG_DONTWAIT) == 0) ++closed;
  }
  CHECK(closed == 200);
}
