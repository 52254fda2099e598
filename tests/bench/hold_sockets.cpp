// Benchmark fixture: holds --count ESTABLISHED TCP sockets on loopback (--count/2
// connections, both ends held), spread over 4 listening ports so the ephemeral port range
// never runs dry, and over worker processes of at most 18,000 sockets each (the fd hard
// limit may not be raisable: no CAP_SYS_RESOURCE). Prints "READY <n>" when all hold them,
// then waits for stdin to close.
// --turnover N: meanwhile N connections a second more are opened (both ends held) and each
// is closed 12 s later: with a 10 s idle threshold, a few sockets keep starting and
// stopping to linger among the held ones, as on a real host.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <vector>

namespace {

// Both ends of one more loopback connection to listener, or {-1, -1}.
std::pair<int, int> connect_pair(int listener, const sockaddr_in& addr) {
  int c = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    close(c);
    return {-1, -1};
  }
  return {c, accept(listener, nullptr, nullptr)};
}

// Until stdin closes: every 1/per_second s one more connection, each closed after hold_s.
void turn_over(int listener, const sockaddr_in& addr, long per_second, long hold_s) {
  using Clock = std::chrono::steady_clock;
  std::deque<std::pair<Clock::time_point, std::pair<int, int>>> open;
  const auto period = std::chrono::microseconds(1'000'000 / std::max(1L, per_second));
  auto next = Clock::now();
  for (;;) {
    pollfd in{0, POLLIN, 0};
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
    if (poll(&in, 1, static_cast<int>(std::max<long long>(0, wait))) > 0) {
      char buf;
      if (read(0, &buf, 1) <= 0) break;
      continue;
    }
    const auto now = Clock::now();
    next += period;
    open.emplace_back(now, connect_pair(listener, addr));
    while (!open.empty() && now - open.front().first >= std::chrono::seconds(hold_s)) {
      close(open.front().second.first);
      close(open.front().second.second);
      open.pop_front();
    }
  }
  for (auto& [at, pair] : open) {
    close(pair.first);
    close(pair.second);
  }
}

}  // namespace

int main(int argc, char** argv) {
  long count = 10000;
  long turnover = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--count") count = std::atol(argv[i + 1]);
    if (flag == "--turnover") turnover = std::atol(argv[i + 1]);
  }
  constexpr long kPerWorker = 18000;
  constexpr int kPorts = 4;
  int listeners[kPorts];
  sockaddr_in addrs[kPorts];
  for (int i = 0; i < kPorts; ++i) {
    listeners[i] = socket(AF_INET, SOCK_STREAM, 0);
    addrs[i] = {};
    addrs[i].sin_family = AF_INET;
    addrs[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addrs[i];
    if (bind(listeners[i], reinterpret_cast<sockaddr*>(&addrs[i]), len) != 0 || listen(listeners[i], 4096) != 0) {
      return 1;
    }
    getsockname(listeners[i], reinterpret_cast<sockaddr*>(&addrs[i]), &len);
  }
  int ready[2];
  if (pipe(ready) != 0) return 1;
  std::vector<pid_t> workers;
  for (long first = 0; first < count / 2; first += kPerWorker / 2) {
    const long last = std::min(count / 2, first + kPerWorker / 2);
    pid_t pid = fork();
    if (pid != 0) {
      workers.push_back(pid);
      continue;
    }
    rlimit nofile{};
    getrlimit(RLIMIT_NOFILE, &nofile);
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
    std::vector<int> fds;
    for (long i = first; i < last; ++i) {
      const int port = static_cast<int>(i % kPorts);
      int c = socket(AF_INET, SOCK_STREAM, 0);
      if (connect(c, reinterpret_cast<sockaddr*>(&addrs[port]), sizeof addrs[port]) != 0) {
        std::perror("connect");
        _exit(1);
      }
      int s = accept(listeners[port], nullptr, nullptr);
      if (s < 0) _exit(1);
      fds.push_back(c);
      fds.push_back(s);
    }
    if (write(ready[1], "r", 1) != 1) _exit(1);
    char buf;
    while (read(0, &buf, 1) > 0) {
    }
    _exit(0);
  }
  for (size_t i = 0; i < workers.size(); ++i) {
    char c;
    if (read(ready[0], &c, 1) != 1) return 1;
  }
  std::printf("READY %ld\n", count / 2 * 2);
  std::fflush(stdout);
  if (turnover > 0) {
    turn_over(listeners[0], addrs[0], turnover, 12);
  } else {
    char buf;
    while (read(0, &buf, 1) > 0) {
    }
  }
  for (pid_t w : workers) {
    kill(w, SIGKILL);
    waitpid(w, nullptr, 0);
  }
  return 0;
}
