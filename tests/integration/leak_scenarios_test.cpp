// Root integration tests: real loopback servers and clients, real sockleak, and the
// kernel's own view (`ss -tanpH`) as ground truth.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "child_process.h"
#include "sockleak_run.h"

using namespace std::chrono_literals;
using sockleak::test::ChildProcess;
using sockleak::test::LoopbackServer;
using sockleak::test::expect_line_prefix;
using sockleak::test::is_linger;
using sockleak::test::Record;
using sockleak::test::SockleakRun;
using sockleak::test::ss_count;

namespace {

constexpr int kConnections = 50;


struct Client {
  ChildProcess process;
  Client(const std::string& port, const std::string& mode, int count)
      : process({HTTP_CLIENT_BIN, "--port", port, "--mode", mode, "--count", std::to_string(count),
                 "--max-seconds", "90"}) {
    expect_line_prefix(process, "READY ");
  }
};

int max_count(const std::vector<Record>& seen, pid_t pid, const std::string& state) {
  int most = 0;
  for (const Record& r : seen) {
    if (is_linger(r, pid, state)) most = std::max(most, r["socket"]["count"].get<int>());
  }
  return most;
}

}  // namespace

TEST_CASE("a client that never closes its keep-alive connections is reported with exactly N CLOSE_WAIT sockets, as ss shows",
          "[close_wait_client]") {
  LoopbackServer server({"--idle-close-ms", "1000"});
  SockleakRun sockleak({"run", "--close-wait", "1s", "--established-idle", "1h", "--interval", "1s",
                        "--duration", "60s"});
  Client client(server.port, "leak", kConnections);
  const pid_t pid = client.process.pid();

  auto record = sockleak.wait_for(
      [&](const Record& r) { return is_linger(r, pid, "CLOSE_WAIT") && r["socket"]["count"] == kConnections; },
      20s);
  REQUIRE(record);
  CHECK(ss_count(pid, "close-wait") == kConnections);
  CHECK((*record)["process"]["name"] == "sl_http_client");
  CHECK((*record)["socket"]["oldest_age_seconds"].get<double>() >= 1.0);
  CHECK((*record)["socket"]["age_is_lower_bound"] == false);
  const Record& peer = (*record)["network"]["peers"][0];
  CHECK(peer["address"] == "127.0.0.1");
  CHECK(std::to_string(peer["port"].get<int>()) == server.port);
  CHECK(peer["count"] == kConnections);
  CHECK((*record)["process"]["fd"]["open"].get<int>() >= kConnections);
  CHECK((*record)["process"]["fd"]["limit"].get<int>() > 0);

  // The FIN arrived in softirq; nobody else may be blamed, and nothing over-counted.
  sockleak.read_for(2500ms);
  CHECK(max_count(sockleak.seen(), pid, "CLOSE_WAIT") == kConnections);
  CHECK(max_count(sockleak.seen(), server.process.pid(), "CLOSE_WAIT") == 0);
  CHECK(max_count(sockleak.seen(), sockleak.process().pid(), "CLOSE_WAIT") == 0);
  CHECK(ss_count(pid, "close-wait") == kConnections);
}

TEST_CASE("a well-behaved client that closes its connections is never reported, while a leaking one beside it is",
          "[well_behaved_client]") {
  LoopbackServer server({"--idle-close-ms", "1000"});
  SockleakRun sockleak({"run", "--close-wait", "1s", "--established-idle", "1s", "--interval", "1s",
                        "--duration", "60s"});
  Client good(server.port, "close", kConnections);
  Client leaky(server.port, "leak", 10);

  REQUIRE(sockleak.wait_for(
      [&](const Record& r) { return is_linger(r, leaky.process.pid(), "CLOSE_WAIT") && r["socket"]["count"] == 10; },
      20s));
  sockleak.read_for(3s);
  for (const Record& r : sockleak.seen()) {
    if (r["type"] == "linger") CHECK(r["process"]["pid"] != good.process.pid());
  }
  CHECK(ss_count(good.process.pid(), "close-wait") == 0);
  CHECK(ss_count(good.process.pid(), "established") == 0);
}

TEST_CASE("idle ESTABLISHED connections are reported under both client and server after --established-idle",
          "[idle_established]") {
  LoopbackServer server({"--idle-close-ms", "0"});
  SockleakRun sockleak({"run", "--close-wait", "1h", "--established-idle", "2s", "--interval", "1s",
                        "--duration", "60s"});
  Client client(server.port, "leak", kConnections);
  const pid_t cpid = client.process.pid();
  const pid_t spid = server.process.pid();

  REQUIRE(sockleak.wait_for(
      [&](const Record& r) { return is_linger(r, cpid, "ESTABLISHED") && r["socket"]["count"] == kConnections; },
      20s));
  auto server_record = sockleak.wait_for(
      [&](const Record& r) { return is_linger(r, spid, "ESTABLISHED") && r["socket"]["count"] == kConnections; },
      5s);
  REQUIRE(server_record);
  CHECK((*server_record)["socket"]["oldest_age_seconds"].get<double>() >= 2.0);
  CHECK(ss_count(cpid, "established") == kConnections);
  CHECK(ss_count(spid, "established") == kConnections);
  CHECK(max_count(sockleak.seen(), cpid, "ESTABLISHED") == kConnections);
  CHECK(max_count(sockleak.seen(), spid, "ESTABLISHED") == kConnections);
}

TEST_CASE("connections made while a leak lingers are still reported idle after --established-idle",
          "[idle_during_leak]") {
  // A CLOSE_WAIT leak makes sockleak read the holders of the leaked sockets alone (a walk
  // that adds no connection to the map); connections made meanwhile still enter the map by
  // the periodic walk (every --established-idle), not only by the full one (1 h here).
  LoopbackServer closing({"--idle-close-ms", "1"});
  LoopbackServer idle({"--idle-close-ms", "0"});
  SockleakRun sockleak({"run", "--close-wait", "1s", "--established-idle", "3s", "--interval", "1s",
                        "--reconcile-interval", "1h", "--duration", "60s"});
  std::this_thread::sleep_for(3500ms);  // past the first periodic walk
  Client leaky(closing.port, "leak", 5);
  Client quiet(idle.port, "leak", 5);
  const pid_t leaky_pid = leaky.process.pid();
  const pid_t quiet_pid = quiet.process.pid();
  REQUIRE(sockleak.wait_for([&](const Record& r) { return is_linger(r, leaky_pid, "CLOSE_WAIT"); }, 10s));
  REQUIRE(sockleak.wait_for(
      [&](const Record& r) { return is_linger(r, quiet_pid, "ESTABLISHED") && r["socket"]["count"] == 5; }, 15s));
  CHECK(ss_count(quiet_pid, "established") == 5);
}

TEST_CASE("snapshot exits 1 and reports the leak when something lingers, 0 when nothing does", "[snapshot]") {
  LoopbackServer server({"--idle-close-ms", "500"});
  Client client(server.port, "leak", 20);
  std::this_thread::sleep_for(2s);  // server closes idle connections after 500ms
  const std::string pid = std::to_string(client.process.pid());

  ChildProcess leaking({SOCKLEAK_BIN, "snapshot", "--close-wait", "1s", "--pid", pid});
  auto line = leaking.read_line(30s);
  REQUIRE(line);
  Record record = Record::parse(*line);
  CHECK(record["socket"]["state"] == "CLOSE_WAIT");
  CHECK(record["socket"]["count"] == 20);
  CHECK(record["socket"]["age_is_lower_bound"] == true);
  CHECK(leaking.wait(30s) == 1);

  ChildProcess clean({SOCKLEAK_BIN, "snapshot", "--close-wait", "1s", "--pid",
                      std::to_string(server.process.pid())});
  CHECK_FALSE(clean.read_line(30s));
  CHECK(clean.wait(30s) == 0);
}

TEST_CASE("SIGTERM stops the monitor within a second and it writes a final stats record", "[signals]") {
  SockleakRun sockleak({"run", "--interval", "1s"});
  const auto sent = std::chrono::steady_clock::now();
  sockleak.process().signal(SIGTERM);
  auto final_stats = sockleak.wait_for([](const Record& r) { return r["type"] == "stats" && r["final"] == true; }, 5s);
  REQUIRE(final_stats);
  CHECK(sockleak.process().wait(5s) == 0);
  CHECK(std::chrono::steady_clock::now() - sent < 1s);
}

TEST_CASE("a closed stdout ends the monitor cleanly with exit 0", "[closed_stdout]") {
  SockleakRun sockleak({"run", "--interval", "200ms"});
  sockleak.process().close_stdout();
  CHECK(sockleak.process().wait(5s) == 0);
}

TEST_CASE("without CAP_BPF and CAP_PERFMON sockleak exits 77 and names what is missing", "[privileges]") {
  ChildProcess dropped({"/bin/sh", "-c",
                        std::string("exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all ") +
                            SOCKLEAK_BIN + " run 2>&1"});
  std::string output;
  while (auto line = dropped.read_line(10s)) output += *line + "\n";
  CHECK(dropped.wait(10s) == 77);
  CHECK(output.find("CAP_BPF") != std::string::npos);
  CHECK(output.find("CAP_PERFMON") != std::string::npos);
}

TEST_CASE("a stdout that cannot be written (full disk) is a runtime failure: exit 3 and a message", "[full_stdout]") {
  ChildProcess full({"/bin/sh", "-c", std::string(SOCKLEAK_BIN) + " run --interval 200ms 2>&1 >/dev/full"});
  std::string output;
  while (auto line = full.read_line(10s)) output += *line + "\n";
  CHECK(full.wait(10s) == 3);
  CHECK(output.find("write stdout") != std::string::npos);
  CHECK(output.find("No space left on device") != std::string::npos);
}

TEST_CASE("a non-blocking stdout whose reader falls behind loses no record and fails nothing", "[nonblocking_stdout]") {
  // A one-page pipe, non-blocking on sockleak's side (as a parent that set O_NONBLOCK on
  // its end leaves it), read only after sockleak has written far more than fits.
  int pipe_fds[2];
  REQUIRE(pipe2(pipe_fds, O_CLOEXEC) == 0);
  fcntl(pipe_fds[1], F_SETPIPE_SZ, 4096);
  REQUIRE(fcntl(pipe_fds[1], F_SETFL, O_NONBLOCK) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::vector<std::string> args = {SOCKLEAK_BIN, "run", "--interval", "200ms", "--duration", "3s"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  REQUIRE(posix_spawn(&pid, SOCKLEAK_BIN, &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  std::this_thread::sleep_for(4s);  // sockleak is blocked on the full pipe by now
  std::string output;
  char buf[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof buf)) > 0;) output.append(buf, static_cast<size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  std::istringstream lines(output);
  int stats = 0;
  bool final = false;
  for (std::string line; std::getline(lines, line);) {
    const Record r = Record::parse(line);  // every line whole
    if (r["type"] == "stats") ++stats;
    final = final || r.value("final", false);
  }
  CHECK(stats >= 5);  // start, reports (later while the reader lags, as with a blocking stdout), final
  CHECK(final);
}
