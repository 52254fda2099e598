// Root integration tests for sockleak where containers put it: in a pid namespace of its
// own (a sidecar sharing its pod's processes), and as the image in real podman containers,
// sidecar and DaemonSet style, paging a real Alertmanager. Ground truth is `ss -tanp` run in
// the namespace concerned.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "podman.h"
#include "sockleak_run.h"

using namespace std::chrono_literals;
using namespace sockleak::test;

namespace {

// CLOSE_WAIT sockets per pid in ss lines ("SS " + an `ss -tanpH` line).
std::map<pid_t, int> counts_from_ss(const std::vector<std::string>& lines) {
  std::map<pid_t, int> counts;
  for (const std::string& line : lines) {
    if (size_t at = line.find("pid="); at != std::string::npos) ++counts[std::stoi(line.substr(at + 4))];
  }
  return counts;
}

// A leaker on the host, outside every namespace and container a test makes: count CLOSE_WAIT
// sockets to a loopback server.
struct HostLeaker {
  LoopbackServer server{{"--idle-close-ms", "100"}};
  ChildProcess client;
  explicit HostLeaker(int count)
      : client({HTTP_CLIENT_BIN, "--port", server.port, "--mode", "leak", "--count", std::to_string(count)}) {
    expect_line_prefix(client, "READY ");
  }
};

}  // namespace

TEST_CASE("in a pid namespace, pids are the namespace's, /proc is read by them, and outsiders are not counted",
          "[pid_namespace]") {
  HostLeaker outsider(7);  // outside the namespace, at the same time
  const std::string inside_leaker = std::string(HTTP_CLIENT_BIN) + " --port " + outsider.server.port +
                                    " --mode leak --count 5 --max-seconds 60 >/dev/null </dev/null &";
  const std::string script = inside_leaker + " sleep 1.5; " + SOCKLEAK_BIN +
                             " snapshot --close-wait 1s; echo EXIT $?; " + SOCKLEAK_BIN +
                             " run --close-wait 1s --interval 1s --duration 2s; "
                             "ss -tanpH state close-wait | sed 's/^/SS /'";
  ChildProcess pod({"/usr/bin/unshare", "--pid", "--fork", "--mount-proc", "/bin/sh", "-c", script});
  std::vector<Record> snapshot;
  std::vector<Record> run;
  std::vector<std::string> ss;
  int snapshot_exit = -1;
  while (auto line = pod.read_line(30s)) {
    if (line->rfind("SS ", 0) == 0) {
      ss.push_back(*line);
    } else if (line->rfind("EXIT ", 0) == 0) {
      snapshot_exit = std::stoi(line->substr(5));
    } else {
      (snapshot_exit < 0 ? snapshot : run).push_back(Record::parse(*line));
    }
  }
  CHECK(pod.wait(10s) == 0);
  CHECK(snapshot_exit == 1);
  const std::map<pid_t, int> truth = counts_from_ss(ss);
  REQUIRE(truth.size() == 1);
  const pid_t pid = truth.begin()->first;  // the leaker's pid inside (2 or 3), not its host pid
  CHECK(pid < 10);
  CHECK(truth.begin()->second == 5);
  for (const std::vector<Record>* records : {&snapshot, &run}) {
    CHECK(linger_counts(*records, "CLOSE_WAIT") == truth);
    for (const Record& r : *records) {
      if (r["type"] == "linger") {
        CHECK(r["process"]["fd"]["open"].get<int>() >= 5);  // read from /proc by the namespace's pid
        CHECK(r["process"]["fd"].contains("limit"));
        CHECK(r["process"]["name"] == "sl_http_client");
      }
      if (r["type"] == "stats") {
        // The outsider's 7 are neither reported nor counted, not even as unowned.
        CHECK(r["sockets"]["lingering"]["unowned"] == 0);
        if (r["final"] == true) CHECK(r["sockets"]["lingering"]["close_wait"] == 5);
      }
    }
  }
  // On the host, both leakers, by host pids.
  CHECK(ss_count(outsider.client.pid(), "close-wait") == 7);
}

namespace {

// The application: a loopback server and a client leaking `count` CLOSE_WAIT sockets to it,
// in its own network namespace; pid 1 is a shell that outlives the client (as a pod's pause
// container outlives its applications), so the client can stop alone.
std::vector<std::string> leaking_app(int count) {
  const std::string script =
      "/usr/bin/sl_http_server --idle-close-ms 100 --max-seconds 300 > /tmp/port & sleep 0.5; "
      "port=$(/usr/bin/busybox awk '/^PORT/ {print $2}' /tmp/port); "
      "/usr/bin/sl_http_client --port $port --mode leak --max-seconds 300 --count " +
      std::to_string(count) + " < /dev/null > /dev/null & wait";
  return {"--network=none", Podman::app_image(), "/usr/bin/busybox", "sh", "-c", script};
}

// `ss` in the network namespace of host pid `in`: CLOSE_WAIT sockets per host pid.
std::map<pid_t, int> close_wait_in_netns_of(int in) {
  std::istringstream out(run_command({"/usr/bin/nsenter", "-t", std::to_string(in), "-n", "ss", "-tanpH", "state",
                                      "close-wait"}));
  std::vector<std::string> lines;
  for (std::string line; std::getline(out, line);) lines.push_back(line);
  return counts_from_ss(lines);
}

// The pid a host process has in its own (innermost) pid namespace: NSpid's last field.
pid_t innermost_pid(pid_t host_pid) {
  std::ifstream status("/proc/" + std::to_string(host_pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("NSpid:", 0) == 0) return std::stoi(line.substr(line.find_last_of(" \t") + 1));
  }
  return 0;
}

// Polls until `ready` holds (every 250 ms) or `within` passes.
template <typename Ready>
bool eventually(std::chrono::seconds within, Ready ready) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(250ms);
  }
  return ready();
}

// Alertmanager's active alerts as amtool prints them (JSON), in the network namespace of
// host pid `in`.
nlohmann::json active_alerts(int in, int port) {
  const std::string out = run_command({"/usr/bin/nsenter", "-t", std::to_string(in), "-n", "amtool",
                                       "--alertmanager.url=http://127.0.0.1:" + std::to_string(port), "alert",
                                       "query", "-o", "json"});
  try {
    return nlohmann::json::parse(out);
  } catch (const nlohmann::json::exception&) {
    return nlohmann::json::array();
  }
}

struct RemoveContainer {
  std::string name;
  ~RemoveContainer() {
    try {
      Podman::run({"rm", "-f", "-t", "0", "--ignore", name});
    } catch (...) {
    }
  }
};

}  // namespace

TEST_CASE("a sidecar container reports its pod's leaker by its pod pid with its container, and pages Alertmanager",
          "[sidecar]") {
  HostLeaker outsider(7);
  const std::string tag = std::to_string(getpid());
  Container app("sockleak-test-app-" + tag, leaking_app(12));
  const int app_pid = app.host_pid();
  std::map<pid_t, int> truth;
  REQUIRE(eventually(10s, [&] {
    truth = close_wait_in_netns_of(app_pid);
    return truth.size() == 1 && truth.begin()->second == 12;
  }));
  const pid_t client_host_pid = truth.begin()->first;
  const pid_t client_pod_pid = innermost_pid(client_host_pid);
  REQUIRE(client_pod_pid > 0);
  REQUIRE(client_pod_pid != client_host_pid);

  // A real Alertmanager in the pod's network namespace, where the sidecar reaches it.
  const std::string am_dir = make_temp_dir();
  std::ofstream(am_dir + "/am.yml") << "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n";
  ChildProcess alertmanager({"/usr/bin/nsenter", "-t", std::to_string(app_pid), "-n", "prometheus-alertmanager",
                             "--config.file=" + am_dir + "/am.yml", "--storage.path=" + am_dir + "/data",
                             "--web.listen-address=127.0.0.1:9093", "--cluster.listen-address="});
  REQUIRE(eventually(20s, [&] {
    return run_command({"/usr/bin/nsenter", "-t", std::to_string(app_pid), "-n", "amtool",
                        "--alertmanager.url=http://127.0.0.1:9093", "alert", "query", "-o", "json"})
               .rfind("[", 0) == 0;
  }));

  RemoveContainer sidecar_cleanup{"sockleak-test-sidecar-" + tag};
  std::vector<std::string> args{"run", "--rm", "--name", sidecar_cleanup.name, "--pid=container:" + app.name(),
                                "--network=container:" + app.name()};
  for (const std::string& p : Podman::sockleak_privileges()) args.push_back(p);
  args.push_back(Podman::sockleak_image());
  for (const char* a : {"run", "--close-wait", "1s", "--interval", "1s", "--duration", "40s",
                        "--alert-close-wait-count", "5", "--alert-resolve-after", "2", "--alertmanager-url",
                        "http://127.0.0.1:9093"}) {
    args.emplace_back(a);
  }
  ChildProcess sidecar(Podman::command(args));

  // Its first report with the leak: by the pod's pid, with fds and limit read through the
  // pod's /proc, and the app's container id; nothing of the host's leaker.
  std::optional<Record> linger;
  std::optional<Record> stats;
  while (auto line = sidecar.read_line(30s)) {
    const Record r = Record::parse(*line);
    if (r["type"] == "linger") linger = r;
    if (r["type"] == "stats" && linger) {
      stats = r;
      break;
    }
  }
  REQUIRE(linger);
  CHECK((*linger)["process"]["pid"] == client_pod_pid);
  CHECK((*linger)["socket"]["count"] == 12);
  CHECK((*linger)["process"]["fd"]["open"].get<int>() >= 12);
  CHECK((*linger)["process"]["fd"].contains("limit"));
  CHECK((*linger)["container"]["id"] == app.id());
  CHECK((*linger)["container"]["runtime"] == "podman");
  REQUIRE(stats);
  CHECK((*stats)["sockets"]["lingering"]["close_wait"] == 12);
  CHECK((*stats)["sockets"]["lingering"]["unowned"] == 0);

  // The alert reaches Alertmanager with the pod's pid and the container...
  nlohmann::json alert;
  REQUIRE(eventually(15s, [&] {
    for (const auto& a : active_alerts(app_pid, 9093)) {
      if (a["labels"].value("alertname", "") == "SocketLeakCloseWait") alert = a;
    }
    return !alert.is_null();
  }));
  CHECK(alert["labels"]["pid"] == std::to_string(client_pod_pid));
  CHECK(alert["labels"]["process"] == "sl_http_client");
  CHECK(alert["labels"]["state"] == "CLOSE_WAIT");
  CHECK(alert["labels"]["container_id"] == app.id());
  // ...and resolves there once the app's leaking process stops.
  REQUIRE(::kill(client_host_pid, SIGTERM) == 0);
  CHECK(eventually(20s, [&] { return active_alerts(app_pid, 9093).empty(); }));
  std::filesystem::remove_all(am_dir);
}

TEST_CASE("the image in the host's namespaces (DaemonSet mode) reports host pids exactly, with container ids",
          "[daemonset]") {
  HostLeaker outsider(7);
  Container app("sockleak-test-app-" + std::to_string(getpid()), leaking_app(9));
  const int app_pid = app.host_pid();
  std::map<pid_t, int> in_app;
  REQUIRE(eventually(10s, [&] {
    in_app = close_wait_in_netns_of(app_pid);
    return in_app.size() == 1 && in_app.begin()->second == 9;
  }));
  std::this_thread::sleep_for(1s);  // older than --close-wait

  std::vector<std::string> args{"run", "--rm", "--pid=host", "--network=host"};
  for (const std::string& p : Podman::sockleak_privileges()) args.push_back(p);
  args.push_back(Podman::sockleak_image());
  for (const char* a : {"snapshot", "--close-wait", "1s"}) args.emplace_back(a);
  ChildProcess daemon(Podman::command(args));
  std::map<pid_t, Record> by_pid;
  while (auto line = daemon.read_line(60s)) {
    const Record r = Record::parse(*line);
    if (r["type"] == "linger" && r["socket"]["state"] == "CLOSE_WAIT") by_pid[r["process"]["pid"].get<pid_t>()] = r;
  }
  CHECK(daemon.wait(30s) == 1);
  const pid_t client = in_app.begin()->first;
  REQUIRE(by_pid.contains(client));
  CHECK(by_pid[client]["socket"]["count"] == 9);
  CHECK(by_pid[client]["container"]["id"] == app.id());
  REQUIRE(by_pid.contains(outsider.client.pid()));
  CHECK(by_pid[outsider.client.pid()]["socket"]["count"] == ss_count(outsider.client.pid(), "close-wait"));
  CHECK(by_pid[outsider.client.pid()]["container"].is_null());
}

TEST_CASE("an Alertmanager that is down at first gets the alert once it is up; failures are counted, reports go on",
          "[alertmanager]") {
  const int port = [] {  // a port nothing listens on yet
    ChildProcess probe({HTTP_SERVER_BIN, "--max-seconds", "1"});
    const int p = std::stoi(expect_line_prefix(probe, "PORT "));
    probe.signal(SIGTERM);
    probe.wait(5s);
    return p;
  }();
  SockleakRun sockleak({"run", "--close-wait", "1s", "--interval", "1s", "--duration", "60s",
                        "--alert-close-wait-count", "5", "--alertmanager-url",
                        "http://127.0.0.1:" + std::to_string(port)});
  HostLeaker leaking(8);
  const pid_t leaker = leaking.client.pid();
  // Reports keep coming while pushes fail.
  std::optional<Record> failing;
  for (int i = 0; i < 10 && !failing; ++i) {
    auto cycle = sockleak.next_cycle(5s);
    if (cycle.second["alert_push"]["failed"].get<int>() >= 2) failing = cycle.second;
  }
  REQUIRE(failing);
  CHECK((*failing)["alert_push"]["sent"] == 0);

  const std::string dir = make_temp_dir();
  std::ofstream(dir + "/am.yml") << "route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n";
  ChildProcess alertmanager({"/usr/bin/prometheus-alertmanager", "--config.file=" + dir + "/am.yml",
                             "--storage.path=" + dir + "/data",
                             "--web.listen-address=127.0.0.1:" + std::to_string(port), "--cluster.listen-address="});
  nlohmann::json alert;
  // Backoff doubles from 1 s to 60 s: by now it is at most a few seconds.
  REQUIRE(eventually(30s, [&] {
    for (const auto& a : active_alerts(getpid(), port)) alert = a;
    return !alert.is_null();
  }));
  CHECK(alert["labels"]["alertname"] == "SocketLeakCloseWait");
  CHECK(alert["labels"]["pid"] == std::to_string(leaker));
  CHECK(alert["labels"]["process"] == "sl_http_client");
  CHECK(alert["annotations"]["value"] == "8");
  int sent = 0;
  for (int i = 0; i < 5 && sent == 0; ++i) sent = sockleak.next_cycle(5s).second["alert_push"]["sent"].get<int>();
  CHECK(sent >= 1);
  std::filesystem::remove_all(dir);
}

namespace {

void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
}

// `podman kube play` of a manifest text; the pod is removed when this goes out of scope,
// and host directories its hostPath volumes created are removed again.
struct PlayedPod {
  std::string name;
  std::vector<std::string> created_dirs;
  PlayedPod(const std::string& pod_name, const std::string& manifest) : name(pod_name) {
    for (const char* dir : {"/var/log/pods", "/var/log/containers"}) {
      if (!std::filesystem::exists(dir)) created_dirs.emplace_back(dir);
    }
    Podman::run({"pod", "rm", "-f", "--ignore", name});
    const std::string dir = make_temp_dir();
    std::ofstream(dir + "/pod.yaml") << manifest;
    Podman::run({"kube", "play", dir + "/pod.yaml"});
    std::filesystem::remove_all(dir);
  }
  ~PlayedPod() {
    try {
      Podman::run({"pod", "rm", "-f", "-t", "0", "--ignore", name});
    } catch (...) {
    }
    for (const std::string& dir : created_dirs) std::filesystem::remove(dir);
  }
  // Records the container printed so far.
  std::vector<Record> records(const std::string& container) const {
    std::istringstream out(Podman::run({"logs", name + "-" + container}));
    std::vector<Record> all;
    for (std::string line; std::getline(out, line);) {
      if (!line.empty() && line.front() == '{') all.push_back(Record::parse(line));
    }
    return all;
  }
};

}  // namespace

// The DaemonSet's pod template needs hostPID, which `podman kube play` (4.3) ignores: its
// flags are those the [daemonset] test gives `podman run`.
TEST_CASE("the shipped sidecar manifest runs as written: the pod's leaker by its pod pid, nothing of the host's",
          "[kube_manifests]") {
  HostLeaker outsider(7);
  const std::string tag = std::to_string(getpid());

  {
    std::string manifest = read_file(SOCKLEAK_SOURCE_DIR "/deploy/kubernetes/sockleak-sidecar.yaml");
    const std::vector<std::string> app = leaking_app(12);
    std::string command = "[\"/usr/bin/busybox\", \"sh\", \"-c\", " + nlohmann::json(app.back()).dump() + "]";
    replace_once(manifest, "name: app-with-sockleak", "name: sockleak-test-pod-" + tag);
    replace_once(manifest, "image: registry.example.invalid/app:1.0",
                 "image: " + Podman::app_image() + "\n      command: " + command);
    replace_once(manifest, "image: localhost/sockleak:0.1.0", "image: " + Podman::sockleak_image());
    replace_once(manifest, "\"--close-wait\", \"30s\", \"--interval\", \"10s\"",
                 "\"--close-wait\", \"1s\", \"--interval\", \"1s\"");
    replace_once(manifest, "\"--alertmanager-url\", \"http://alertmanager.monitoring.svc:9093\"",
                 "\"--duration\", \"30s\"");
    PlayedPod pod("sockleak-test-pod-" + tag, manifest);
    std::vector<Record> lingers;
    REQUIRE(eventually(20s, [&] {
      lingers.clear();
      for (const Record& r : pod.records("sockleak")) {
        if (r["type"] == "linger") lingers.push_back(r);
      }
      return !lingers.empty() && lingers.back()["socket"]["count"] == 12;
    }));
    const Record& last = lingers.back();
    const pid_t pod_pid = last["process"]["pid"].get<pid_t>();
    // The pod's pid for the leaker, not the host's.
    const int app_pid = std::stoi(Podman::run({"inspect", "-f", "{{.State.Pid}}", pod.name + "-app"}));
    const std::map<pid_t, int> truth = close_wait_in_netns_of(app_pid);
    REQUIRE(truth.size() == 1);
    CHECK(truth.begin()->second == 12);
    CHECK(pod_pid == innermost_pid(truth.begin()->first));
    CHECK(pod_pid != truth.begin()->first);
    CHECK(last["process"]["name"] == "sl_http_client");
    CHECK(last["container"]["runtime"] == "podman");
    for (const Record& r : lingers) CHECK(r["process"]["pid"] == pod_pid);  // never the outsider
  }
}

TEST_CASE("a host process in a systemd service's cgroup carries its unit, and no container", "[service_identity]") {
  // The cgroup a service manager would give it, made in the cgroup v2 hierarchy.
  std::string root = "/sys/fs/cgroup/unified";
  if (!std::filesystem::exists(root + "/cgroup.procs")) root = "/sys/fs/cgroup";
  const std::string unit = "sockleak-test-" + std::to_string(getpid()) + ".service";
  const std::string cgroup = root + "/system.slice/" + unit;
  const bool made_slice = !std::filesystem::exists(root + "/system.slice");
  std::filesystem::create_directories(cgroup);
  HostLeaker leaking(6);
  ChildProcess& leaker = leaking.client;
  std::ofstream(cgroup + "/cgroup.procs") << leaker.pid() << "\n";
  std::this_thread::sleep_for(1200ms);
  ChildProcess snapshot({SOCKLEAK_BIN, "snapshot", "--close-wait", "1s", "--pid", std::to_string(leaker.pid())});
  std::optional<Record> linger;
  while (auto line = snapshot.read_line(30s)) {
    const Record r = Record::parse(*line);
    if (r["type"] == "linger") linger = r;
  }
  CHECK(snapshot.wait(30s) == 1);
  leaker.signal(SIGKILL);
  leaker.wait(5s);
  std::filesystem::remove(cgroup);
  if (made_slice) std::filesystem::remove(root + "/system.slice");
  REQUIRE(linger);
  CHECK((*linger)["systemd"]["unit"] == unit);
  CHECK((*linger)["container"].is_null());
  CHECK((*linger)["orchestrator"].is_null());
  CHECK((*linger)["socket"]["count"] == 6);
}
