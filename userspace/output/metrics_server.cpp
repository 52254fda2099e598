#include "output/metrics_server.h"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "output/http_request.h"

namespace sockleak {
namespace {

using Clock = std::chrono::steady_clock;

struct Connection {
  UniqueFd fd;
  Clock::time_point deadline;  // header by then, or the whole reply taken by then
  std::string in;
  std::string out;  // the reply once the header is in; sent from `sent`
  size_t sent = 0;
  bool replying() const { return !out.empty(); }
};

UniqueFd listen_on(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  const std::string where = "--metrics-addr " + address.host + ":" + port;
  if (getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found) != 0 || !found) {
    throw Error(where + ": not an address of this host", kExitUsage);
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
  int last_error = 0;
  for (const addrinfo* a = found; a; a = a->ai_next) {
    UniqueFd fd(socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd.valid() && bind(fd.get(), a->ai_addr, a->ai_addrlen) == 0 && listen(fd.get(), 128) == 0) return fd;
    last_error = errno;
  }
  // Often passing (a previous instance still exiting): a service manager may retry.
  throw Error(where + ": cannot listen: " + std::strerror(last_error), kExitRuntime);
}

// Reads what the peer sent; false when the connection is done for (EOF, error).
bool read_request(Connection& c) {
  char buf[2048];
  for (;;) {
    const ssize_t n = recv(c.fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      if (c.in.size() >= kMaxRequestHeader) return true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

// Sends what the socket takes; false when the reply is done (all sent) or cannot be.
bool write_reply(Connection& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  shutdown(c.fd.get(), SHUT_WR);
  return false;
}

}  // namespace

MetricsServer::MetricsServer(const ListenAddress& address)
    : listener_(listen_on(address)), wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!wake_.valid()) throw Error(std::string("eventfd: ") + std::strerror(errno));
  thread_ = std::thread([this] { serve(); });
}

MetricsServer::~MetricsServer() {
  const uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) {
    // Cannot happen for an eventfd below its maximum; the thread would then never stop.
  }
  if (thread_.joinable()) thread_.join();
}

void MetricsServer::publish(std::string exposition) {
  auto next = std::make_shared<const std::string>(std::move(exposition));
  std::lock_guard lock(mutex_);
  body_ = std::move(next);
}

std::shared_ptr<const std::string> MetricsServer::body() const {
  std::lock_guard lock(mutex_);
  return body_;
}

void MetricsServer::serve() {
  std::vector<Connection> conns;
  std::vector<pollfd> fds;
  for (;;) {
    const Clock::time_point now = Clock::now();
    // Past their deadline: a header never finished, a reply never taken.
    std::erase_if(conns, [&](const Connection& c) { return c.deadline <= now; });
    Clock::time_point next = now + std::chrono::seconds(60);
    fds.assign({{wake_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}});
    for (const Connection& c : conns) {
      fds.push_back({c.fd.get(), static_cast<short>(c.replying() ? POLLOUT : POLLIN), 0});
      next = std::min(next, c.deadline);
    }
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1;
    if (poll(fds.data(), fds.size(), static_cast<int>(wait)) < 0 && errno != EINTR) return;
    if (fds[0].revents) return;  // stop
    std::vector<bool> done(conns.size(), false);
    for (size_t i = 0; i < conns.size(); ++i) {
      Connection& c = conns[i];
      const short events = fds[i + 2].revents;
      if (!events) continue;
      if (!c.replying()) {
        if (!read_request(c)) {
          done[i] = true;
          continue;
        }
        const HttpRequest request = parse_request(c.in);
        if (request.status == HttpRequest::Status::kIncomplete) continue;
        c.out = http_reply(request, *body());
        c.in.clear();
        c.deadline = Clock::now() + kWriteTimeout;
      }
      done[i] = !write_reply(c);
    }
    for (size_t i = conns.size(); i-- > 0;) {
      if (done[i]) conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (fds[1].revents & POLLIN) {
      for (;;) {
        UniqueFd fd(accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd.valid()) break;
        if (conns.size() >= kMaxConnections) {
          // Make room: the connection that has taken longest to send its header goes.
          auto oldest = std::min_element(conns.begin(), conns.end(), [](const Connection& a, const Connection& b) {
            return std::make_pair(a.replying(), a.deadline) < std::make_pair(b.replying(), b.deadline);
          });
          conns.erase(oldest);
        }
        conns.push_back({std::move(fd), Clock::now() + kHeaderTimeout, {}, {}, 0});
      }
    }
  }
}

}  // namespace sockleak
