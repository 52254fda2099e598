#include "output/http_post.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "kernel/unique_fd.h"

namespace sockleak {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for events on fd until the deadline; false on timeout.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

UniqueFd connect_to(const HttpUrl& url, Clock::time_point deadline, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(url.port);
  if (const int rc = getaddrinfo(url.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    error = "resolve " + url.host + ": " + gai_strerror(rc);
    return UniqueFd();
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, freeaddrinfo);
  for (const addrinfo* a = found; a; a = a->ai_next) {
    UniqueFd fd(socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) continue;
    if (connect(fd.get(), a->ai_addr, a->ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS) {
      error = std::string("connect: ") + std::strerror(errno);
      continue;
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      error = "connect: timed out";
      continue;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error == 0) return fd;
    error = std::string("connect: ") + std::strerror(so_error);
  }
  return UniqueFd();
}

}  // namespace

PostResult http_post(const HttpUrl& url, const std::string& path, const std::string& json_body,
                     std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  PostResult result;
  UniqueFd fd = connect_to(url, deadline, result.error);
  if (!fd.valid()) return result;
  const bool v6_literal = url.host.find(':') != std::string::npos;
  const std::string host = (v6_literal ? "[" + url.host + "]" : url.host) + ":" + std::to_string(url.port);
  const std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + host +
                              "\r\nUser-Agent: sockleak/" SOCKLEAK_VERSION
                              "\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(json_body.size()) + "\r\nConnection: close\r\n\r\n" + json_body;
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd.get(), POLLOUT, deadline)) return {0, "send: timed out"};
    } else {
      return {0, std::string("send: ") + std::strerror(errno)};
    }
  }
  // The status line is all that is needed: "HTTP/1.x NNN ...".
  std::string head;
  while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
    char buf[512];
    const ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
    if (n > 0) {
      head.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd.get(), POLLIN, deadline)) return {0, "no response: timed out"};
    } else {
      return {0, n == 0 ? "connection closed without a response" : std::string("recv: ") + std::strerror(errno)};
    }
  }
  if (head.rfind("HTTP/1.", 0) != 0 || head.size() < 12) return {0, "not an HTTP response"};
  try {
    result.status = std::stoi(head.substr(9, 3));
  } catch (const std::exception&) {
    return {0, "not an HTTP response"};
  }
  return result;
}

}  // namespace sockleak
