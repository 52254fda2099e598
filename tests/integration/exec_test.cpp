// `sockleak exec -- COMMAND` with real programs: C leakers that fork, a Go program, a real
// `go test` package; exit codes, signals and stdio as if sockleak were not there.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "child_process.h"
#include "sockleak_run.h"

using namespace std::chrono_literals;
using sockleak::test::ChildProcess;
using sockleak::test::expect_line_prefix;
using sockleak::test::LoopbackServer;
using sockleak::test::make_temp_dir;
using sockleak::test::read_file;
using sockleak::test::Record;
using sockleak::test::run_command;
using sockleak::test::ss_count;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// `sockleak exec ARGS -- COMMAND` with its stdin and stdout piped to the test and its
// stderr (the summary) kept in a file; cwd and env prefix for COMMAND optional.
class ExecRun {
 public:
  ExecRun(const std::vector<std::string>& args, const std::vector<std::string>& command, const std::string& cwd = "")
      : dir_(make_temp_dir()), process_(argv(args, command, cwd)) {}
  ~ExecRun() { run_command({"/bin/rm", "-rf", dir_}); }
  ChildProcess& process() { return process_; }
  const std::string& dir() const { return dir_; }
  int finish(std::chrono::milliseconds timeout = 60s) {
    const auto code = process_.wait(timeout);
    REQUIRE(code);
    return *code;
  }
  std::string summary() const { return read_file(dir_ + "/stderr"); }

 private:
  std::vector<std::string> argv(const std::vector<std::string>& args, const std::vector<std::string>& command,
                                const std::string& cwd) const {
    std::vector<std::string> out{"/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\" 2>\"$0\"", dir_ + "/stderr",
                                 cwd.empty() ? dir_ : cwd, SOCKLEAK_BIN, "exec"};
    out.insert(out.end(), args.begin(), args.end());
    out.push_back("--");
    out.insert(out.end(), command.begin(), command.end());
    return out;
  }
  std::string dir_;
  ChildProcess process_;
};

std::vector<Record> ndjson(const std::string& path) {
  std::vector<Record> records;
  std::istringstream lines(read_file(path));
  for (std::string line; std::getline(lines, line);) records.push_back(Record::parse(line));
  return records;
}

const Record* find_leak(const std::vector<Record>& records, const std::string& kind) {
  for (const Record& r : records) {
    if (r["type"] == "leak" && r["leak"]["kind"] == kind) return &r;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("exec: a child's leak is reported under the child's pid, with peer, cause and call site", "[exec_fork_child]") {
  LoopbackServer server;
  ExecRun run({}, {EXEC_LEAKER_BIN, server.port, "fork-leak", "4"});
  const std::string child = expect_line_prefix(run.process(), "CHILD ");
  CHECK(run.finish() == 66);
  const std::string summary = run.summary();
  INFO(summary);
  CHECK(contains(summary, "pid " + child + " (sl_exec_leaker): 4 CLOSE_WAIT sockets never closed"));
  CHECK(occurrences(summary, "never closed") == 1);  // the parent leaked nothing
  CHECK(contains(summary, "peer 127.0.0.1:" + server.port + " (4)"));
  CHECK(contains(summary, "cause peer_closed"));
  CHECK(contains(summary, "opened at "));
  CHECK(contains(summary, "leaky_connect (" ));
  CHECK(contains(summary, "exit 66: leak found"));
}

TEST_CASE("exec: a daemon the command started and left to init is still watched", "[exec_daemon]") {
  LoopbackServer server;
  // The middle shell exits at once: the leaker is re-parented (to init or a subreaper)
  // before it connects, while the command goes on.
  ExecRun run({}, {"/bin/sh", "-c",
                   "/bin/sh -c '" + std::string(EXEC_LEAKER_BIN) + " " + server.port +
                       " linger 2 & echo DAEMON $!'; sleep 4"});
  const std::string daemon = expect_line_prefix(run.process(), "DAEMON ");
  CHECK(run.finish() == 66);
  const std::string summary = run.summary();
  INFO(summary);
  CHECK(contains(summary, "pid " + daemon + " (sl_exec_leaker): 2 CLOSE_WAIT sockets never closed"));
  CHECK(contains(summary, "pid " + daemon + " (sl_exec_leaker): 2 CLOSE_WAIT sockets past 1s"));
}

TEST_CASE("exec: a leaker outside the watched tree is never reported", "[exec_outside_leaker]") {
  LoopbackServer server;
  ChildProcess outside({LEAK_SITE_BIN, server.port, "5"});
  expect_line_prefix(outside, "READY");
  ExecRun run({}, {"/bin/sh", "-c", std::string(EXEC_LEAKER_BIN) + " " + server.port + " tidy 3 && sleep 3"});
  std::this_thread::sleep_for(1500ms);
  CHECK(ss_count(outside.pid(), "close-wait") == 5);  // lingering past 1 s, next to the command
  outside.close_stdin();  // and now closed by its exit while the command runs
  REQUIRE(outside.wait(5s));
  CHECK(run.finish() == 0);
  const std::string summary = run.summary();
  INFO(summary);
  CHECK(contains(summary, "sockleak: no socket leaks in "));
  CHECK(!contains(summary, "pid " + std::to_string(outside.pid())));
}

TEST_CASE("exec: exit status is the command's when it fails, the leak status when it leaked, else 0",
          "[exec_exit_codes]") {
  LoopbackServer server;
  {
    ExecRun run({}, {EXEC_LEAKER_BIN, server.port, "exit", "3"});
    CHECK(run.finish() == 3);
  }
  {
    ExecRun run({}, {EXEC_LEAKER_BIN, server.port, "tidy", "3"});
    CHECK(run.finish() == 0);
    CHECK(contains(run.summary(), "no socket leaks"));
  }
  {
    ExecRun run({}, {EXEC_LEAKER_BIN, server.port, "leak", "2"});
    CHECK(run.finish() == 66);
  }
  {
    ExecRun run({"--leak-exit-code", "9"}, {EXEC_LEAKER_BIN, server.port, "leak", "2"});
    CHECK(run.finish() == 9);
  }
  {
    // A failing command keeps its status; the leak is still told.
    ExecRun run({}, {"/bin/sh", "-c", std::string(EXEC_LEAKER_BIN) + " " + server.port + " leak 2; exit 5"});
    CHECK(run.finish() == 5);
    INFO(run.summary());
    CHECK(contains(run.summary(), "2 CLOSE_WAIT sockets never closed"));
  }
  {
    ExecRun run({}, {"/nonexistent/command"});
    CHECK(run.finish() == 127);
    CHECK(contains(run.summary(), "No such file or directory"));
  }
  {
    ExecRun run({"--close-wait", "nonsense"}, {"/bin/true"});
    CHECK(run.finish() == 2);
  }
  {
    // Without privileges: 77 before the command runs (it would have left a file).
    const std::string dir = make_temp_dir();
    run_command({"/bin/chmod", "777", dir});  // writable by the unprivileged command, had it run
    ChildProcess dropped({"/bin/sh", "-c",
                          "exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " +
                              std::string(SOCKLEAK_BIN) + " exec -- /bin/touch " + dir + "/ran 2>&1"});
    std::string output;
    while (auto line = dropped.read_line(10s)) output += *line + "\n";
    CHECK(dropped.wait(10s) == 77);
    CHECK(output.find("CAP_BPF") != std::string::npos);
    CHECK(read_file(dir + "/ran").empty());
    CHECK(access((dir + "/ran").c_str(), F_OK) != 0);
    run_command({"/bin/rm", "-rf", dir});
  }
}

TEST_CASE("exec: SIGTERM and SIGINT are forwarded and the command's answer is sockleak's", "[exec_signals]") {
  {
    // The command exits 7 on SIGTERM: that is what sockleak returns.
    ExecRun run({}, {"/bin/sh", "-c", "trap 'exit 7' TERM; echo STARTED; while :; do sleep 0.1; done"});
    expect_line_prefix(run.process(), "STARTED");
    run.process().signal(SIGTERM);
    CHECK(run.finish(20s) == 7);
  }
  {
    ExecRun run({}, {"/bin/sh", "-c", "trap 'exit 4' INT; echo STARTED; while :; do sleep 0.1; done"});
    expect_line_prefix(run.process(), "STARTED");
    run.process().signal(SIGINT);
    CHECK(run.finish(20s) == 4);
  }
  {
    // A command killed by the signal: sockleak ends by the same signal, and the command is gone.
    ExecRun run({}, {"/bin/sh", "-c", "echo STARTED $$; exec sleep 30"});
    const std::string pid = expect_line_prefix(run.process(), "STARTED ");
    run.process().signal(SIGTERM);
    CHECK(run.finish(20s) == 128 + SIGTERM);
    CHECK(kill(std::stoi(pid), 0) != 0);
    CHECK(contains(run.summary(), "killed by SIGTERM"));
  }
}

TEST_CASE("exec: --output NDJSON and --junit name what lingered and what was never closed", "[exec_reports]") {
  LoopbackServer server;
  const std::string out = make_temp_dir();
  ExecRun run({"--output", out + "/leaks.ndjson", "--junit", out + "/leaks.xml"},
              {EXEC_LEAKER_BIN, server.port, "linger", "3"});
  CHECK(run.finish() == 66);
  INFO(run.summary());
  const std::vector<Record> records = ndjson(out + "/leaks.ndjson");
  const Record* lingered = find_leak(records, "lingered");
  const Record* never = find_leak(records, "never_closed");
  REQUIRE(lingered);
  REQUIRE(never);
  for (const Record* r : {lingered, never}) {
    CHECK((*r)["socket"]["state"] == "CLOSE_WAIT");
    CHECK((*r)["socket"]["count"] == 3);
    CHECK((*r)["socket"]["cause"] == "peer_closed");
    CHECK((*r)["network"]["peers"][0]["port"] == std::stoi(server.port));
    CHECK((*r)["process"]["name"] == "sl_exec_leaker");
    REQUIRE(!(*r)["call_sites"].empty());
    CHECK((*r)["call_sites"][0]["frames"].dump().find("leaky_connect") != std::string::npos);
  }
  CHECK((*lingered)["socket"]["oldest_age_seconds"].get<double>() >= 1.0);
  CHECK((*never)["socket"]["oldest_age_seconds"].get<double>() >= 2.0);
  const Record& exec = records.back();
  CHECK(exec["type"] == "exec");
  CHECK(exec["exit_code"] == 66);
  CHECK(exec["command"]["exit_code"] == 0);
  CHECK(exec["leaks"]["never_closed"] == 1);
  CHECK(exec["leaks"]["lingered"] == 1);
  const std::string junit = read_file(out + "/leaks.xml");
  CHECK(contains(junit, "failures=\"2\""));
  CHECK(contains(junit, "<failure type=\"peer_closed\""));

  ExecRun clean({"--junit", out + "/clean.xml"}, {EXEC_LEAKER_BIN, server.port, "tidy", "3"});
  CHECK(clean.finish() == 0);
  const std::string passed = read_file(out + "/clean.xml");
  CHECK(contains(passed, "failures=\"0\""));
  CHECK(contains(passed, "name=\"no socket leaks\""));
  run_command({"/bin/rm", "-rf", out});
}

TEST_CASE("exec: the command's stdin and stdout are its own", "[exec_stdio]") {
  ExecRun run({}, {"/bin/cat"});
  const std::string text = "hello through sockleak exec";
  run.process().write_stdin(text + "\n");
  run.process().close_stdin();
  // Nothing of sockleak's on stdout: the first line is what cat echoes, then EOF.
  const auto echoed = run.process().read_line(10s);
  REQUIRE(echoed);
  CHECK(*echoed == text);
  CHECK(!run.process().read_line(5s));
  CHECK(run.finish() == 0);
}

namespace {

// A Go module whose test fetches from an httptest server; closes the body or not.
std::string go_module(bool close_body) {
  const std::string dir = make_temp_dir();
  std::ofstream(dir + "/go.mod") << "module leaky\n\ngo 1.19\n";
  std::ofstream(dir + "/fetch_test.go")
      << "package leaky\n\nimport (\n\t\"io\"\n\t\"net/http\"\n\t\"net/http/httptest\"\n\t\"testing\"\n\t\"time\"\n)\n\n"
         "func TestFetch(t *testing.T) {\n"
         "\tsrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {\n"
         "\t\tio.WriteString(w, \"hello\")\n\t}))\n"
         "\tdefer srv.Close()\n"
         "\tresp, err := http.Get(srv.URL)\n"
         "\tif err != nil {\n\t\tt.Fatal(err)\n\t}\n"
      << (close_body ? "\tdefer resp.Body.Close()\n" : "\t_ = resp // the leak: the body is never closed\n")
      << "\tif resp.StatusCode != 200 {\n\t\tt.Fatal(resp.Status)\n\t}\n}\n"
      // Another test after it. Go's transport closes a connection on a goroutine of its own
      // (after Body.Close, or when the server closes it): a binary that exits the moment
      // srv.Close() returns can leave a tidy connection in CLOSE_WAIT for its exit to close
      // (README Known limits). Seen on a loaded machine, never here otherwise.
      << "\nfunc TestLater(t *testing.T) {\n\ttime.Sleep(200 * time.Millisecond)\n}\n";
  return dir;
}

std::vector<std::string> go_test_command(const std::string& module) {
  return {"/usr/bin/env", "GOCACHE=" GO_CACHE_DIR, "GOPATH=" + module + "/gopath", "GOPROXY=off", "GOFLAGS=-mod=mod",
          "HOME=" + module, "go", "test", "-count=1", "./..."};
}

}  // namespace

TEST_CASE("exec: `go test` whose test never closes a response body fails with the leak; closing it passes",
          "[exec_go_test]") {
  const std::string leaky = go_module(false);
  {
    ExecRun run({}, go_test_command(leaky), leaky);
    const int code = run.finish(120s);
    const std::string summary = run.summary();
    INFO(summary);
    CHECK(code == 66);
    CHECK(contains(summary, "(leaky.test): 1 CLOSE_WAIT socket never closed"));
    CHECK(contains(summary, "peer 127.0.0.1:"));
    CHECK(contains(summary, "cause peer_closed"));
    // go test links with -s -w: named from the Go runtime's own function table. The test
    // binary lives for milliseconds after its connect(); an ASan-built sockleak is often
    // too slow to read its mappings in time (README Known limits), so only here.
#ifndef SOCKLEAK_BIN_SANITIZED
    CHECK(contains(summary, "net/http.(*Transport).dial"));
#endif
  }
  const std::string tidy = go_module(true);
  {
    ExecRun run({}, go_test_command(tidy), tidy);
    const int code = run.finish(120s);
    INFO(run.summary());
    CHECK(code == 0);
    CHECK(contains(run.summary(), "no socket leaks"));
  }
  run_command({"/bin/rm", "-rf", leaky, tidy});
}

TEST_CASE("exec: a Go program's leaked net.Dial connections name the function that dialed", "[exec_go_call_site]") {
  // The server closes idle connections after 100 ms; the leaker exits once it has read the
  // server's FIN on every leaked connection, so at its exit they are all CLOSE_WAIT. (A timer
  // instead, `sleep 2 | leaker`, lost the race twice under qemu TCG on 5.10.)
  LoopbackServer server({"--idle-close-ms", "100"});
  ExecRun run({}, {GO_LEAKER_BIN, server.port, "8", "exit-at-eof"});
  CHECK(run.finish() == 66);
  const std::string summary = run.summary();
  INFO(summary);
  CHECK(contains(summary, "(sl_go_leaker): 8 CLOSE_WAIT sockets never closed"));
  CHECK(contains(summary, "main.leakDial"));
  CHECK(!contains(summary, "main.tidyDial"));
}
