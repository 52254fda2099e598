#include "core/endpoint.h"

#include <arpa/inet.h>
#include <sys/socket.h>

namespace sockleak {

std::string Endpoint::address_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family == AF_INET6 ? AF_INET6 : AF_INET;
  if (!inet_ntop(af, address.data(), buf, sizeof buf)) return "?";
  return buf;
}

}  // namespace sockleak
