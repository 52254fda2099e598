// Benchmark workload: short TCP connections on loopback as fast as possible — connect,
// send a small request, read the reply, close — from --threads client threads against an
// in-process server, for --seconds. Prints "connections_per_second <n>".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};          // clients
std::atomic<bool> g_stop_servers{false};  // after every client is done, so none waits forever

void serve(int listener) {
  while (!g_stop_servers.load(std::memory_order_relaxed)) {
    int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) continue;
    char buf[256];
    if (read(fd, buf, sizeof buf) > 0) {
      static const char kReply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      if (write(fd, kReply, sizeof kReply - 1) < 0) {
      }
    }
    close(fd);
  }
}

void client(sockaddr_in addr, std::atomic<uint64_t>& done) {
  static const char kRequest[] = "GET / HTTP/1.1\r\nHost: b\r\n\r\n";
  uint64_t local = 0;
  while (!g_stop.load(std::memory_order_relaxed)) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    linger no_time_wait{1, 0};  // RST on close: keeps the ephemeral port range from running dry
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_time_wait, sizeof no_time_wait);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        write(fd, kRequest, sizeof kRequest - 1) > 0) {
      char buf[256];
      if (read(fd, buf, sizeof buf) > 0) ++local;
    }
    close(fd);
  }
  done += local;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--threads") threads = std::atoi(argv[i + 1]);
  }
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(listener, 4096) != 0) return 1;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  timeval tv{0, 100000};
  setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  std::vector<std::thread> servers;
  for (int i = 0; i < threads; ++i) servers.emplace_back(serve, listener);
  std::atomic<uint64_t> done{0};
  std::vector<std::thread> clients;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < threads; ++i) clients.emplace_back(client, addr, std::ref(done));
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  g_stop = true;
  for (auto& t : clients) t.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  g_stop_servers = true;
  for (auto& t : servers) t.join();
  std::printf("connections_per_second %.0f\n", static_cast<double>(done.load()) / elapsed);
  return 0;
}
