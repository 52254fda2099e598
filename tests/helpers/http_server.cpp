// Test helper: a tiny keep-alive HTTP/1.1 server on loopback. Closes connections idle
// longer than --idle-close-ms (0 = never), so its clients see a FIN and go CLOSE_WAIT.
// --ignore-peer-close keeps sockets whose peer closed (a server-side CLOSE_WAIT leak).
// --bind :: listens dual-stack (IPv4 peers appear as v4-mapped IPv6).
// --no-accept listens and never calls accept(): connections wait in the accept queue.
// Prints "PORT <n>" once listening. Exits after --max-seconds or on SIGTERM.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

long long now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

struct Conn {
  int fd;
  long long last_ms;
  std::string buf;
  bool peer_closed = false;  // kept open on purpose (--ignore-peer-close)
};

// Bytes the peer sent that this server has not read yet.
int unread_bytes(int fd) {
  int n = 0;
  return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

// A request's bytes: a function of its own, so that a stack captured in read() (libc's
// wrapper keeps no frame pointer) still names main's line that called it.
__attribute__((noinline)) ssize_t read_request(int fd, char* buf, size_t size) {
  const ssize_t n = read(fd, buf, size);
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  std::string bind_addr = "127.0.0.1";
  long long idle_close_ms = 1000;
  long long max_seconds = 60;
  bool ignore_peer_close = false;
  bool accepting = true;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--ignore-peer-close") {
      ignore_peer_close = true;
      continue;
    }
    if (flag == "--no-accept") {
      accepting = false;
      continue;
    }
    if (i + 1 >= argc) { std::fprintf(stderr, "missing value for %s\n", argv[i]); return 2; }
    ++i;
    if (flag == "--bind") bind_addr = argv[i];
    else if (flag == "--idle-close-ms") idle_close_ms = std::atoll(argv[i]);
    else if (flag == "--max-seconds") max_seconds = std::atoll(argv[i]);
    else { std::fprintf(stderr, "unknown flag %s\n", flag.c_str()); return 2; }
  }
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;  // scale tests hold thousands of connections
  setrlimit(RLIMIT_NOFILE, &nofile);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);

  const bool v6 = bind_addr.find(':') != std::string::npos;
  int lfd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    inet_pton(AF_INET6, bind_addr.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    inet_pton(AF_INET, bind_addr.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  if (bind(lfd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(lfd, 4096) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  getsockname(lfd, reinterpret_cast<sockaddr*>(&ss), &len);
  const int port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                            : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  std::printf("PORT %d\n", port);
  std::fflush(stdout);

  const long long deadline = now_ms() + max_seconds * 1000;
  std::vector<Conn> conns;
  static const char kResponse[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
  while (!g_stop && now_ms() < deadline) {
    std::vector<pollfd> fds{{accepting ? lfd : -1, POLLIN, 0}};
    for (const Conn& c : conns) fds.push_back({c.peer_closed ? -1 : c.fd, POLLIN, 0});
    poll(fds.data(), fds.size(), 50);
    if (fds[0].revents & POLLIN) {
      for (int cfd; (cfd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC)) >= 0;) {
        conns.push_back({cfd, now_ms(), {}});
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Conn& c = conns[i - 1];
      char buf[4096];
      ssize_t n = read_request(c.fd, buf, sizeof buf);
      if (n <= 0) {
        if (ignore_peer_close) {
          c.peer_closed = true;
        } else {
          close(c.fd);
          c.fd = -1;
        }
        continue;
      }
      c.last_ms = now_ms();
      c.buf.append(buf, static_cast<size_t>(n));
      size_t end;
      while ((end = c.buf.find("\r\n\r\n")) != std::string::npos) {
        c.buf.erase(0, end + 4);
        if (write(c.fd, kResponse, sizeof kResponse - 1) < 0) break;
      }
    }
    const long long now = now_ms();
    // A connection is idle only once poll() has seen it (those accepted above have not) and
    // nothing it sent is unread: closing with a request still queued would reset it (the
    // client sees ECONNRESET, not a FIN).
    for (size_t i = 0; i + 1 < fds.size(); ++i) {
      Conn& c = conns[i];
      if (c.fd >= 0 && !c.peer_closed && idle_close_ms > 0 && now - c.last_ms >= idle_close_ms &&
          unread_bytes(c.fd) == 0) {
        close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(conns, [](const Conn& c) { return c.fd < 0; });
  }
  for (Conn& c : conns) close(c.fd);
  close(lfd);
  return 0;
}
