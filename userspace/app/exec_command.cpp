#include "app/exec_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "app/session.h"
#include "core/error.h"
#include "core/exec_findings.h"
#include "kernel/privileges.h"
#include "kernel/unique_fd.h"
#include "output/exec_report.h"
#include "output/output_sink.h"

namespace sockleak {
namespace {

// Signals sockleak passes on to COMMAND. Those a terminal sends (Ctrl-C, Ctrl-\) reach
// COMMAND's process group by themselves: not sent twice.
constexpr std::array<int, 6> kForwarded = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
std::array<std::atomic<bool>, NSIG> g_pending{};

void on_signal(int sig, siginfo_t* info, void*) {
  const bool from_terminal = info && info->si_code == SI_KERNEL && (sig == SIGINT || sig == SIGQUIT);
  if (!from_terminal) g_pending[static_cast<size_t>(sig)].store(true);
}

// Dispositions sockleak found, restored in COMMAND before exec: an ignored SIGINT (nohup,
// background jobs) stays ignored there, as without sockleak.
struct Dispositions {
  std::array<struct sigaction, kForwarded.size()> forwarded{};
  struct sigaction pipe {};
  sigset_t mask{};
};

Dispositions install_handlers() {
  Dispositions before;
  sigprocmask(SIG_SETMASK, nullptr, &before.mask);
  for (size_t i = 0; i < kForwarded.size(); ++i) {
    sigaction(kForwarded[i], nullptr, &before.forwarded[i]);
    if (before.forwarded[i].sa_handler == SIG_IGN) continue;
    struct sigaction sa {};
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;  // no SA_RESTART: a signal ends the wait for events at once
    sigaction(kForwarded[i], &sa, nullptr);
  }
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &before.pipe);
  return before;
}

void forward_pending(pid_t child) {
  for (int sig : kForwarded) {
    if (g_pending[static_cast<size_t>(sig)].exchange(false)) kill(child, sig);
  }
}

// Forks COMMAND as the root of the watched tree. Returns its pid, or the errno of a failed
// exec (negated) after reaping the child.
pid_t spawn(Session& session, const std::vector<std::string>& argv, const Dispositions& before) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) throw Error(std::string("pipe: ") + std::strerror(errno));
  UniqueFd read_end(report[0]);
  UniqueFd write_end(report[1]);
  // Handlers must not run in the child between fork and exec.
  sigset_t all;
  sigfillset(&all);
  sigset_t mask;
  sigprocmask(SIG_BLOCK, &all, &mask);
  session.bpf().set_watch_parent(static_cast<uint32_t>(getpid()));
  const pid_t pid = fork();
  if (pid == 0) {
    for (size_t i = 0; i < kForwarded.size(); ++i) sigaction(kForwarded[i], &before.forwarded[i], nullptr);
    sigaction(SIGPIPE, &before.pipe, nullptr);
    sigprocmask(SIG_SETMASK, &before.mask, nullptr);
    execvp(args[0], args.data());
    const int e = errno;
    if (write(write_end.get(), &e, sizeof e) < 0) _exit(127);
    _exit(e == ENOENT ? 127 : 126);
  }
  const int fork_errno = errno;
  session.bpf().set_watch_parent(0);
  sigprocmask(SIG_SETMASK, &mask, nullptr);
  if (pid < 0) throw Error(std::string("fork: ") + std::strerror(fork_errno));
  write_end = UniqueFd();
  int e = 0;
  ssize_t n;
  do {
    n = read(read_end.get(), &e, sizeof e);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof e)) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return -e;
  }
  return pid;
}

struct CommandStatus {
  std::string text;
  int code = 0;    // as a shell shows it
  int signal = 0;  // killed by it
};

CommandStatus describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return {std::string("killed by ") + (name ? std::string("SIG") + name : "signal " + std::to_string(sig)),
            128 + sig, sig};
  }
  const int code = WEXITSTATUS(status);
  return {"exited " + std::to_string(code), code, 0};
}

// Dies of sig as COMMAND did, so that a shell or CI runner sees the same end (no core).
void die_like(int sig) {
  rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
}

void write_file(const std::string& path, const std::string& text, const char* what) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.flush();
  if (!out) std::fprintf(stderr, "sockleak: %s %s: cannot write: %s\n", what, path.c_str(), std::strerror(errno));
}

}  // namespace

int run_exec(const Options& options) {
  for (const std::string& w : check_privileges(options.call_sites > 0)) {
    std::fprintf(stderr, "sockleak: warning: %s\n", w.c_str());
  }
  // Refused before COMMAND runs: a path that cannot be written.
  std::optional<OutputSink> records;
  if (options.output_path) records.emplace(options.output_path);
  if (options.junit_path) {
    std::ofstream probe(*options.junit_path, std::ios::app);
    if (!probe) throw Error("--junit " + *options.junit_path + ": cannot open for writing", kExitUsage);
  }
  const Dispositions before = install_handlers();
  Options session_options = options;
  session_options.output_path.reset();  // Session writes nothing under exec: stdout is COMMAND's
  CommandStatus status;
  ExecOutcome outcome;
  RecordContext ctx;
  {
    Session session(session_options);
    const pid_t pid = spawn(session, options.exec_argv, before);
    if (pid < 0) {
      std::fprintf(stderr, "sockleak: exec %s: %s\n", options.exec_argv.front().c_str(), std::strerror(-pid));
      return -pid == ENOENT ? 127 : 126;
    }
    UniqueFd exited(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
    if (exited.valid()) session.bpf().wake_on(exited.get());
    const uint64_t started = monotonic_ns();
    ExecFindings findings;
    int wait_status = 0;
    for (;;) {
      forward_pending(pid);
      const pid_t done = waitpid(pid, &wait_status, WNOHANG);
      if (done == pid) break;
      if (done < 0 && errno != EINTR) throw Error(std::string("waitpid: ") + std::strerror(errno));
      // Until the next report, or COMMAND's exit (its pidfd wakes the wait), or a signal.
      const uint64_t next_report = session.next_report_ns();
      const uint64_t until_report = next_report > monotonic_ns() ? next_report - monotonic_ns() : 0;
      const auto wait_ms = static_cast<int64_t>(until_report / 1'000'000) + 1;
      session.drain_events(std::chrono::milliseconds(std::min<int64_t>(wait_ms, exited.valid() ? 1000 : 50)));
      for (const sl_exit_close& e : session.take_exit_closes()) findings.add_exit_close(e);
      const std::optional<bool> reconcile_due = session.report_due(monotonic_ns());
      if (reconcile_due) findings.add_report(session.collect(*reconcile_due));
    }
    const uint64_t ended = monotonic_ns();
    status = describe_status(wait_status);
    // The exit closed its sockets before the parent could reap it: their records are in.
    session.drain_events(std::chrono::milliseconds(0));
    for (const sl_exit_close& e : session.take_exit_closes()) findings.add_exit_close(e);
    // Processes COMMAND left running (daemons): what lingers in them now.
    findings.add_report(session.collect(false));

    outcome.argv = options.exec_argv;
    outcome.command_status = status.text;
    outcome.command_code = status.code;
    outcome.command_failed = status.code != 0;
    outcome.command_signaled = status.signal != 0;
    outcome.seconds = static_cast<double>(ended - started) / 1e9;
    outcome.processes = session.bpf().watched().size();
    outcome.lingered = findings.lingered();
    for (const LingerGroup& group : findings.never_closed()) outcome.never_closed.push_back(session.row_for(group));
    outcome.thresholds = options.thresholds;
    outcome.events_lost = session.bpf().counters().events_lost;
    outcome.exit_code = outcome.command_failed ? status.code : outcome.leaked() ? options.leak_exit_code : kExitOk;
    ctx = session.context();
  }
  std::fputs(exec_summary(outcome).c_str(), stderr);
  if (records) {
    for (const auto& record : exec_records(outcome, ctx)) records->write(ndjson_line(record) + "\n");
  }
  if (options.junit_path) write_file(*options.junit_path, junit_report(outcome), "--junit");
  if (status.signal) die_like(status.signal);
  return outcome.exit_code;
}

}  // namespace sockleak
