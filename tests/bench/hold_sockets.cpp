// Benchmark fixture: holds --count ESTABLISHED TCP sockets on loopback (--count/2
// connections, both ends held), spread over 4 listening ports so the ephemeral port range
// never runs dry, and over worker processes of at most 18,000 sockets each (the fd hard
// limit may not be raisable: no CAP_SYS_RESOURCE). Prints "READY <n>" when all hold them,
// then waits for stdin to close.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const long count = argc > 2 && std::string(argv[1]) == "--count" ? std::atol(argv[2]) : 10000;
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
  char buf;
  while (read(0, &buf, 1) > 0) {
  }
  for (pid_t w : workers) {
    kill(w, SIGKILL);
    waitpid(w, nullptr, 0);
  }
  return 0;
}
