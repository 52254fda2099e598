// Root integration tests: sockleak where no kernel config file can be read (a container, a
// Debian or Ubuntu kernel without /boot mounted): it loads, and the times that depend on
// the kernel tick rate are still right.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "sockleak_run.h"

using namespace std::chrono_literals;
using sockleak::test::ChildProcess;
using sockleak::test::expect_line_prefix;
using sockleak::test::LoopbackServer;
using sockleak::test::make_temp_dir;
using sockleak::test::Record;
using sockleak::test::ss_count;

namespace {

// argv run in a private mount namespace with an empty /boot and /proc/config.gz masked;
// exits 99 if a config file is still readable there.
std::vector<std::string> without_kernel_config(const std::vector<std::string>& argv) {
  std::vector<std::string> wrapped = {
      "/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c",
      "mount -t tmpfs none /boot && { [ ! -e /proc/config.gz ] || mount --bind /dev/null /proc/config.gz; } && "
      "if ls /boot/config-* >/dev/null 2>&1 || zcat /proc/config.gz 2>/dev/null | grep -q CONFIG_HZ; then exit 99; fi && "
      "exec \"$@\"",
      "sh"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

ChildProcess leaking_client(const std::string& port, const std::string& mode, int count) {
  return ChildProcess({HTTP_CLIENT_BIN, "--port", port, "--mode", mode, "--count", std::to_string(count),
                       "--max-seconds", "60"});
}

}  // namespace

TEST_CASE("with no kernel config file visible, snapshot loads and gives tick-based ages right", "[no_kernel_config]") {
  // CLOSE_WAIT from 0.5 s after connect; ESTABLISHED connections idle from the start.
  LoopbackServer closing({"--idle-close-ms", "500"});
  LoopbackServer idle({"--idle-close-ms", "0"});
  ChildProcess leaker = leaking_client(closing.port, "leak", 10);
  expect_line_prefix(leaker, "READY ");
  ChildProcess holder = leaking_client(idle.port, "leak", 10);
  expect_line_prefix(holder, "READY ");
  const auto connected = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(3500ms);
  REQUIRE(ss_count(leaker.pid(), "close-wait") == 10);

  // Ages come from kernel jiffies stamps: a wrong HZ scales them (1000 assumed on a 250 Hz
  // kernel reads a quarter). Pre-existing CLOSE_WAIT ages are lower bounds: 3 s at most.
  ChildProcess snapshot(without_kernel_config({SOCKLEAK_BIN, "snapshot", "--close-wait", "2s", "--established-idle",
                                               "2500ms", "--pid", std::to_string(leaker.pid()), "--pid",
                                               std::to_string(holder.pid())}));
  std::vector<Record> records;
  while (auto line = snapshot.read_line(30s)) records.push_back(Record::parse(*line));
  REQUIRE(snapshot.wait(30s) == 1);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - connected).count();
  bool saw_close_wait = false;
  bool saw_idle = false;
  for (const Record& r : records) {
    if (r["process"]["pid"] == leaker.pid() && r["socket"]["state"] == "CLOSE_WAIT") {
      saw_close_wait = true;
      CHECK(r["socket"]["count"] == 10);
      const double age = r["socket"]["oldest_age_seconds"].get<double>();
      CHECK(age >= 2.5);
      CHECK(age <= elapsed - 0.4);
    }
    if (r["process"]["pid"] == holder.pid() && r["socket"]["state"] == "ESTABLISHED") {
      saw_idle = true;
      CHECK(r["socket"]["count"] == 10);
    }
  }
  CHECK(saw_close_wait);
  CHECK(saw_idle);
}

TEST_CASE("features runs with no kernel config file visible, measures HZ and says sockleak runs here",
          "[no_kernel_config]") {
  ChildProcess features(without_kernel_config({SOCKLEAK_BIN, "features", "--format", "json"}));
  auto line = features.read_line(30s);
  REQUIRE(line);
  const Record page = Record::parse(*line);
  CHECK(features.wait(30s) == 0);
  CHECK(page["supported"] == true);
  const uint32_t hz = page["tick_rate"]["hz"];
  CHECK((hz == 100 || hz == 250 || hz == 300 || hz == 1000));
}

TEST_CASE("--btf takes the kernel's types from a file; a file without them is refused in one line, exit 77",
          "[btf_file]") {
  // Private names: parallel runs (a sanitizer build next to this one) must not share them.
  const std::string dir = make_temp_dir();
  const std::string copy = dir + "/vmlinux";
  REQUIRE(std::system(("cp /sys/kernel/btf/vmlinux " + copy).c_str()) == 0);
  ChildProcess from_file({SOCKLEAK_BIN, "features", "--format", "json", "--btf", copy});
  auto line = from_file.read_line(30s);
  REQUIRE(line);
  const Record page = Record::parse(*line);
  CHECK(from_file.wait(30s) == 0);
  CHECK(page["kernel"]["btf"] == copy);
  CHECK(page["supported"] == true);

  // Not BTF at all: sockleak says which need is unmet and by which file, on one line.
  const std::string garbage = dir + "/garbage";
  REQUIRE(std::system(("head -c 4096 /dev/urandom > " + garbage).c_str()) == 0);
  ChildProcess refused({"/bin/sh", "-c", std::string(SOCKLEAK_BIN) + " snapshot --btf " + garbage + " 2>&1"});
  std::vector<std::string> lines;
  while (auto l = refused.read_line(30s)) lines.push_back(*l);
  CHECK(refused.wait(30s) == 77);
  REQUIRE(lines.size() == 1);
  const std::string& message = lines.back();
  CHECK(message.find("BTF") != std::string::npos);
  CHECK(message.find(garbage) != std::string::npos);
  CHECK(message.find("Linux 5.10") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("in a time namespace with a boot-time offset, processes keep their identity and start time",
          "[time_namespace]") {
  LoopbackServer server({"--idle-close-ms", "1"});
  ChildProcess leaker = leaking_client(server.port, "leak", 10);
  expect_line_prefix(leaker, "READY ");
  std::this_thread::sleep_for(1500ms);
  const std::vector<std::string> snapshot = {SOCKLEAK_BIN, "snapshot", "--close-wait", "1s", "--pid",
                                             std::to_string(leaker.pid())};
  auto record_of = [](std::vector<std::string> argv) {
    ChildProcess run(std::move(argv));
    auto line = run.read_line(30s);
    REQUIRE(line);
    CHECK(run.wait(30s) == 1);
    return Record::parse(*line);
  };
  const Record host = record_of(snapshot);
  std::vector<std::string> shifted = {"/usr/bin/unshare", "--time", "--boottime", "86400"};
  shifted.insert(shifted.end(), snapshot.begin(), snapshot.end());
  const Record inside = record_of(shifted);
  CHECK(inside["socket"]["count"] == 10);
  CHECK(inside["process"]["start_time"] == host["process"]["start_time"]);

  // A monitor in that namespace must not take every holder for a new process (a reconcile
  // at every report): reconciles stay those the thresholds need.
  std::vector<std::string> run = {"/usr/bin/unshare", "--time", "--boottime", "86400", SOCKLEAK_BIN, "run",
                                  "--close-wait", "1s", "--interval", "1s", "--reconcile-interval", "1h",
                                  "--established-idle", "1h", "--duration", "30s"};
  ChildProcess monitor(run);
  int reports = 0;
  int reconciles = 0;
  while (auto line = monitor.read_line(10s)) {
    const Record r = Record::parse(*line);
    if (r["type"] != "stats") continue;
    reconciles = r["reconcile"]["runs"].get<int>();
    if (++reports == 6) break;
  }
  CHECK(reports == 6);
  CHECK(reconciles <= 2);
}
