// Benchmark fixture: holds --count ESTABLISHED TCP sockets on loopback (--count/2
// connections, both ends in this process), spread over 4 listening ports so the
// ephemeral port range never runs dry. Prints "READY <n>", then waits for stdin to close.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  long count = argc > 2 && std::string(argv[1]) == "--count" ? std::atol(argv[2]) : 10000;
  rlimit nofile{static_cast<rlim_t>(count + 1024), static_cast<rlim_t>(count + 1024)};
  if (setrlimit(RLIMIT_NOFILE, &nofile) != 0) {
    std::perror("setrlimit");
    return 1;
  }
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
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(count));
  for (long i = 0; i < count / 2; ++i) {
    const int port = static_cast<int>(i % kPorts);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, reinterpret_cast<sockaddr*>(&addrs[port]), sizeof addrs[port]) != 0) {
      std::perror("connect");
      return 1;
    }
    int s = accept(listeners[port], nullptr, nullptr);
    if (s < 0) return 1;
    fds.push_back(c);
    fds.push_back(s);
  }
  std::printf("READY %zu\n", fds.size());
  std::fflush(stdout);
  char buf;
  while (read(0, &buf, 1) > 0) {
  }
  return 0;
}
