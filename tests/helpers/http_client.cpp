// Test helper: opens --count keep-alive HTTP connections to --addr:--port, sends one
// request on each and reads the response. --mode close closes them (well-behaved);
// --mode leak keeps every socket open (the bug sockleak finds). Prints "READY <n>"
// when done, then waits until stdin closes (a pipe or terminal; /dev/null is not watched),
// SIGTERM, or --max-seconds.
// --read no sends the request but never reads the response (an undrained body).
// --interval-ms T spaces connections T ms apart (a slow leak); --nofile N sets
// RLIMIT_NOFILE (to watch a process approach EMFILE).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int connect_to(const std::string& addr, int port) {
  const bool v6 = addr.find(':') != std::string::npos;
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, addr.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, addr.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  return fd;
}

void request(int fd, bool read_response) {
  static const char kRequest[] = "GET / HTTP/1.1\r\nHost: test\r\nConnection: keep-alive\r\n\r\n";
  if (write(fd, kRequest, sizeof kRequest - 1) < 0) std::exit(1);
  if (!read_response) return;
  std::string got;
  char buf[512];
  while (got.find("\r\n\r\nok") == std::string::npos) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) std::exit(1);
    got.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1";
  std::string mode = "leak";
  int port = 0;
  int count = 50;
  long long max_seconds = 60;
  long long interval_ms = 0;
  long long nofile_limit = 0;
  bool read_response = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--addr") addr = argv[i + 1];
    else if (flag == "--port") port = std::atoi(argv[i + 1]);
    else if (flag == "--count") count = std::atoi(argv[i + 1]);
    else if (flag == "--mode") mode = argv[i + 1];
    else if (flag == "--max-seconds") max_seconds = std::atoll(argv[i + 1]);
    else if (flag == "--interval-ms") interval_ms = std::atoll(argv[i + 1]);
    else if (flag == "--nofile") nofile_limit = std::atoll(argv[i + 1]);
    else if (flag == "--read") read_response = std::string(argv[i + 1]) != "no";
    else { std::fprintf(stderr, "unknown flag %s\n", argv[i]); return 2; }
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  rlimit nofile{static_cast<rlim_t>(count + 64), static_cast<rlim_t>(count + 64)};
  if (nofile_limit > 0) nofile = {static_cast<rlim_t>(nofile_limit), static_cast<rlim_t>(nofile_limit)};
  if (nofile_limit > 0 || count + 64 > 1024) setrlimit(RLIMIT_NOFILE, &nofile);

  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    int fd = connect_to(addr, port);
    request(fd, read_response);
    if (mode == "close") close(fd);
    else fds.push_back(fd);
    if (interval_ms > 0) usleep(static_cast<useconds_t>(interval_ms * 1000));
  }
  std::printf("READY %d\n", count);
  std::fflush(stdout);
  // Stdin that closes ends the wait (tests hold a pipe); /dev/null or a file, as a shell
  // gives a background job, is not watched: only --max-seconds or a signal end it.
  struct stat in_stat {};
  const bool watch_stdin =
      fstat(0, &in_stat) == 0 && (S_ISFIFO(in_stat.st_mode) || S_ISSOCK(in_stat.st_mode) || isatty(0));
  for (long long waited = 0; !g_stop && waited < max_seconds * 10; ++waited) {
    pollfd in{watch_stdin ? 0 : -1, POLLIN, 0};
    if (poll(&in, 1, 100) > 0) {
      char c;
      if (read(0, &c, 1) <= 0) break;
    }
  }
  for (int fd : fds) close(fd);
  return 0;
}
