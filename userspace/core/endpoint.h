// A TCP endpoint (address family, address bytes, port) as the kernel reports it.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <compare>
#include <cstdint>
#include <string>

namespace sockleak {

struct Endpoint {
  uint16_t family = 0;  // AF_INET or AF_INET6
  std::array<uint8_t, 16> address{};  // IPv4 uses the first 4 bytes
  uint16_t port = 0;

  auto operator<=>(const Endpoint&) const = default;

  // From a kernel row's fields: 16 address bytes (IPv4 in the first 4), host-order port.
  static Endpoint of(uint16_t family, const std::array<uint8_t, 16>& address, uint16_t port);
  template <size_t N>
  static Endpoint of(uint16_t family, const uint8_t (&address)[N], uint16_t port) {
    static_assert(N == 16);
    std::array<uint8_t, 16> bytes;
    std::copy(address, address + N, bytes.begin());
    return of(family, bytes, port);
  }

  // "127.0.0.1", "::1", "::ffff:10.0.0.1" (v4-mapped stays as the kernel holds it).
  std::string address_string() const;
  // "127.0.0.1:80", "[::1]:80".
  std::string to_string() const;
};

}  // namespace sockleak
