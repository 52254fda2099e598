// Test helper: opens --count TCP connections to --addr:--port and then shares, moves or
// drops them the ways real programs do (fork, dup, SCM_RIGHTS, exit, close, close_range,
// dup2, exec with CLOEXEC). Prints "HOLDER <pid>" for every process that must be reported as
// holding the sockets, "NOT_HOLDER <pid>" for every process that must not, then "READY".
// Scenario "fds" opens --count eventfds instead (a process with many non-socket fds);
// with --fd-tables T, T-1 more threads each unshare their fd table and open --count
// eventfds in it (one process past RLIMIT_NOFILE, which limits each table), and with
// --connect N the main table also holds N connections.
// Scenario "leader_exit": the main thread connects, starts 3 more threads and exits on its
// own (pthread_exit: the process lives on, its leader a zombie without an fd table).
// --comm NAME renames the process (prctl), any bytes allowed.
// --delay-ms D: in exit, close, close_range, dup2 and exec, wait D ms between sharing the
// sockets and dropping them (so a monitor reports both holders first).
// --close-after-ms T: T ms after READY, close() every socket fd this process opened and
// print "CLOSED" (a burst of close syscalls).
// --fork-after-ms T: T ms after READY, fork a child that holds what it inherited and print
// "FORKED <pid>" (sockets shared after they were reported).
// --dup-after-ms T: T ms after READY, dup() every socket fd this process opened, then close
// the dup (--dup-mode close-dup, as Go's conn.File() and Python's socket.dup() leave it)
// or the original (close-original), and print "DUPED": the process still holds every
// socket, through one fd. Runs until stdin closes, SIGTERM or
// --max-seconds; kills its descendants on the way out.
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string g_addr = "127.0.0.1";
int g_port = 0;
std::vector<pid_t> g_children;
std::vector<int> g_opened;  // every socket fd connect_one() returned
long long g_delay_ms = 0;
int g_fd_tables = 1;
int g_connect = 0;
pid_t g_main = 0;

// Holders outlive whoever forked them (exit, exec scenarios) but never this program:
// a test that kills it must not leave processes behind.
[[noreturn]] void hold_until_main_exits() {
  while (kill(g_main, 0) == 0) usleep(100 * 1000);
  _exit(0);
}

void delay() { usleep(static_cast<useconds_t>(g_delay_ms * 1000)); }

int connect_one(int extra_flags) {
  const bool v6 = g_addr.find(':') != std::string::npos;
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | extra_flags, 0);
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(g_port));
    inet_pton(AF_INET6, g_addr.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(g_port));
    inet_pton(AF_INET, g_addr.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    std::perror("connect");
    _exit(1);
  }
  g_opened.push_back(fd);
  return fd;
}

std::vector<int> connect_all(int count, int extra_flags = 0) {
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) fds.push_back(connect_one(extra_flags));
  return fds;
}

void say(const char* what, pid_t pid) {
  std::printf("%s %d\n", what, pid);
  std::fflush(stdout);
}

// Forks a child that only holds what it inherited until killed.
pid_t fork_holder() {
  pid_t pid = fork();
  if (pid == 0) hold_until_main_exits();
  g_children.push_back(pid);
  return pid;
}

void send_fds(int channel, const std::vector<int>& fds) {
  for (size_t at = 0; at < fds.size(); at += 200) {
    const size_t n = std::min<size_t>(200, fds.size() - at);
    std::vector<char> control(CMSG_SPACE(n * sizeof(int)));
    char byte = 'x';
    iovec iov{&byte, 1};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(n * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data() + at, n * sizeof(int));
    if (sendmsg(channel, &msg, 0) != 1) _exit(1);
  }
}

// A child that receives `count` fds over channel, then acks and holds them.
pid_t fork_receiver(int channel, int ack, int count) {
  pid_t pid = fork();
  if (pid != 0) {
    g_children.push_back(pid);
    return pid;
  }
  int got = 0;
  while (got < count) {
    char byte;
    iovec iov{&byte, 1};
    std::vector<char> control(CMSG_SPACE(200 * sizeof(int)));
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    if (recvmsg(channel, &msg, 0) <= 0) _exit(1);
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      got += static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    }
  }
  if (write(ack, "k", 1) != 1) _exit(1);
  hold_until_main_exits();
}

void wait_byte(int fd) {
  char c;
  if (read(fd, &c, 1) != 1) _exit(1);
}

// Runs `fn` in a child that reports its grandchild holder's pid over a pipe.
// Returns {child, grandchild}.
template <typename Fn>
std::pair<pid_t, pid_t> in_child(Fn fn) {
  int p[2];
  if (pipe(p) != 0) _exit(1);
  pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    fn(p[1]);
    _exit(0);
  }
  close(p[1]);
  pid_t grandchild = 0;
  if (read(p[0], &grandchild, sizeof grandchild) != sizeof grandchild) _exit(1);
  close(p[0]);
  g_children.push_back(child);
  g_children.push_back(grandchild);
  return {child, grandchild};
}

void open_eventfds(int count) {
  for (int i = 0; i < count; ++i) {
    if (eventfd(0, 0) < 0) {
      std::perror("eventfd");
      _exit(1);
    }
  }
}

// Threads with their own fd tables, --count eventfds each; they live as long as the process.
void fill_fd_tables(int tables, int count) {
  std::atomic<int> ready{0};
  for (int t = 1; t < tables; ++t) {
    std::thread([&ready, count] {
      if (unshare(CLONE_FILES) != 0) {
        std::perror("unshare(CLONE_FILES)");
        _exit(1);
      }
      open_eventfds(count);
      ready.fetch_add(1);
      for (;;) pause();
    }).detach();
  }
  while (ready.load() < tables - 1) usleep(10 * 1000);
}

void run(const std::string& scenario, int count) {
  const pid_t self = getpid();
  if (scenario == "fds") {
    fill_fd_tables(g_fd_tables, count);  // first: unshare copies the table as it is
    open_eventfds(count);
    connect_all(g_connect);
    say("HOLDER", self);
  } else if (scenario == "leader_exit") {
    connect_all(count);
    say("HOLDER", self);
    for (int i = 0; i < 3; ++i) std::thread([] { for (;;) pause(); }).detach();
  } else if (scenario == "plain") {
    connect_all(count);
    say("HOLDER", self);
  } else if (scenario == "fork") {
    connect_all(count);
    say("HOLDER", fork_holder());
    say("HOLDER", self);
  } else if (scenario == "dup") {
    for (int fd : connect_all(count)) {
      if (dup(fd) < 0) _exit(1);
    }
    say("HOLDER", self);
  } else if (scenario == "scm_rights" || scenario == "scm_rights_move") {
    int pair[2];
    int ack[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0 || pipe(ack) != 0) _exit(1);
    const pid_t receiver = fork_receiver(pair[1], ack[1], count);
    std::vector<int> fds = connect_all(count);
    send_fds(pair[0], fds);
    wait_byte(ack[0]);
    if (scenario == "scm_rights_move") {
      for (int fd : fds) close(fd);
      say("NOT_HOLDER", self);
    } else {
      say("HOLDER", self);
    }
    say("HOLDER", receiver);
  } else if (scenario == "exit") {
    // The connecting process forks a holder and exits.
    auto [owner, holder] = in_child([count](int report) {
      connect_all(count);
      pid_t h = fork();
      if (h == 0) hold_until_main_exits();
      if (write(report, &h, sizeof h) != sizeof h) _exit(1);
      delay();
    });
    waitpid(owner, nullptr, 0);
    std::erase(g_children, owner);  // reaped: its pid may be reused, never signal it
    say("NOT_HOLDER", owner);
    say("HOLDER", holder);
  } else if (scenario == "close" || scenario == "close_range" || scenario == "dup2") {
    // A forked holder keeps the sockets; this process drops its copies.
    std::vector<int> fds = connect_all(count);
    say("HOLDER", fork_holder());
    delay();
    if (scenario == "close") {
      for (int fd : fds) close(fd);
    } else if (scenario == "close_range") {
      if (syscall(SYS_close_range, fds.front(), ~0u, 0) != 0) _exit(1);
    } else {
      int null = open("/dev/null", O_RDONLY);
      for (int fd : fds) dup2(null, fd);
      close(null);
    }
    say("NOT_HOLDER", self);
  } else if (scenario == "exec") {
    // CLOEXEC sockets: a forked holder keeps them, the exec'ed process drops them.
    auto [execer, holder] = in_child([count](int report) {
      connect_all(count, SOCK_CLOEXEC);
      pid_t h = fork();
      if (h == 0) hold_until_main_exits();
      if (write(report, &h, sizeof h) != sizeof h) _exit(1);
      close(report);
      delay();
      const std::string wait_main = "while kill -0 " + std::to_string(g_main) + " 2>/dev/null; do sleep 0.1; done";
      execl("/bin/sh", "sh", "-c", wait_main.c_str(), static_cast<char*>(nullptr));
      _exit(1);
    });
    usleep(static_cast<useconds_t>((g_delay_ms + 200) * 1000));  // until execve closed the CLOEXEC fds
    say("NOT_HOLDER", execer);
    say("HOLDER", holder);
  } else {
    std::fprintf(stderr, "unknown scenario %s\n", scenario.c_str());
    std::exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string scenario = "plain";
  int count = 20;
  long long max_seconds = 120;
  long long close_after_ms = -1;
  long long dup_after_ms = -1;
  long long fork_after_ms = -1;
  std::string dup_mode = "close-dup";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--addr") g_addr = argv[i + 1];
    else if (flag == "--port") g_port = std::atoi(argv[i + 1]);
    else if (flag == "--count") count = std::atoi(argv[i + 1]);
    else if (flag == "--scenario") scenario = argv[i + 1];
    else if (flag == "--max-seconds") max_seconds = std::atoll(argv[i + 1]);
    else if (flag == "--close-after-ms") close_after_ms = std::atoll(argv[i + 1]);
    else if (flag == "--delay-ms") g_delay_ms = std::atoll(argv[i + 1]);
    else if (flag == "--dup-after-ms") dup_after_ms = std::atoll(argv[i + 1]);
    else if (flag == "--fork-after-ms") fork_after_ms = std::atoll(argv[i + 1]);
    else if (flag == "--dup-mode") dup_mode = argv[i + 1];
    else if (flag == "--fd-tables") g_fd_tables = std::atoi(argv[i + 1]);
    else if (flag == "--connect") g_connect = std::atoi(argv[i + 1]);
    else if (flag == "--comm") prctl(PR_SET_NAME, argv[i + 1]);
    else { std::fprintf(stderr, "unknown flag %s\n", argv[i]); return 2; }
  }
  signal(SIGTERM, [](int) {});
  g_main = getpid();
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = std::min<rlim_t>(nofile.rlim_max, static_cast<rlim_t>(2 * count + 64));
  if (2 * count + 64 > 1024) setrlimit(RLIMIT_NOFILE, &nofile);

  run(scenario, count);
  std::puts("READY");
  std::fflush(stdout);
  auto serve = [=]() mutable {
  for (long long waited = 0; waited < max_seconds * 10; ++waited) {
    if (fork_after_ms >= 0 && waited * 100 >= fork_after_ms) {
      say("FORKED", fork_holder());
      fork_after_ms = -1;
    }
    if (close_after_ms >= 0 && waited * 100 >= close_after_ms) {
      for (int fd : g_opened) close(fd);
      close_after_ms = -1;
      std::puts("CLOSED");
      std::fflush(stdout);
    }
    if (dup_after_ms >= 0 && waited * 100 >= dup_after_ms) {
      for (int& fd : g_opened) {
        const int copy = dup(fd);
        if (copy < 0) _exit(1);
        if (dup_mode == "close-dup") {
          close(copy);
        } else {
          close(fd);
          fd = copy;
        }
      }
      dup_after_ms = -1;
      std::puts("DUPED");
      std::fflush(stdout);
    }
    pollfd in{0, POLLIN, 0};
    int ready = poll(&in, 1, 100);
    if (ready < 0) break;  // SIGTERM
    if (ready > 0) {
      char c;
      if (read(0, &c, 1) <= 0) break;
    }
  }
  for (pid_t child : g_children) kill(child, SIGKILL);
  while (wait(nullptr) > 0) {
  }
  };
  if (scenario == "leader_exit") {
    // The rest runs on a thread; the leader leaves. exit() ends every thread at the end.
    std::thread([serve]() mutable {
      serve();
      std::exit(0);
    }).detach();
    pthread_exit(nullptr);
  }
  serve();
  return 0;
}
