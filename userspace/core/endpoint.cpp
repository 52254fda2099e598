#include "core/endpoint.h"

#include <arpa/inet.h>
#include <sys/socket.h>

namespace sockleak {

Endpoint Endpoint::of(uint16_t family, const std::array<uint8_t, 16>& address, uint16_t port) {
  Endpoint e;
  e.family = family;
  e.address = address;
  e.port = port;
  return e;
}

std::string Endpoint::address_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == AF_INET6 ? AF_INET6 : AF_INET;
  if (!inet_ntop(af, address.data(), buf, sizeof buf)) return "?";
  return buf;
}

std::string Endpoint::to_string() const {
  std::string out;
  if (family == AF_INET6) out.push_back('[');
  out.append(address_string());
  if (family == AF_INET6) out.push_back(']');
  out.push_back(':');
  out.append(std::to_string(port));
  return out;
}

}  // namespace sockleak
