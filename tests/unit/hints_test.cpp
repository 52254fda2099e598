// linger_hint: the plain-language likely cause printed next to a linger group.
#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/hints.h"

using sockleak::Endpoint;
using sockleak::LingerGroup;
using sockleak::PeerCount;
using sockleak::TcpState;

namespace {

Endpoint v4(std::array<uint8_t, 4> address, uint16_t port) {
  Endpoint e;
  e.family = SL_AF_INET;
  std::copy(address.begin(), address.end(), e.address.begin());
  e.port = port;
  return e;
}

Endpoint v6_loopback(uint16_t port) {
  Endpoint e;
  e.family = SL_AF_INET6;
  e.address[15] = 1;
  e.port = port;
  return e;
}

LingerGroup group(TcpState state, uint32_t count, std::vector<PeerCount> peers) {
  LingerGroup g;
  g.process = {100, 1'000};
  g.name = "server";
  g.state = state;
  g.count = count;
  g.top_peers = std::move(peers);
  return g;
}

}  // namespace

TEST_CASE("CLOSE_WAIT with one dominant peer names the peer and the missing close()", "[hints]") {
  const LingerGroup g = group(TcpState::kCloseWait, 10, {{v4({127, 0, 0, 1}, 8080), 8}, {v4({10, 0, 0, 2}, 80), 2}});
  const std::string hint = sockleak::linger_hint(g);
  CHECK_THAT(hint, Catch::Contains("127.0.0.1:8080") && Catch::Contains("close()"));
}

TEST_CASE("a peer holding exactly half of the sockets is dominant", "[hints]") {
  const LingerGroup g = group(TcpState::kCloseWait, 10, {{v4({127, 0, 0, 1}, 8080), 5}, {v4({10, 0, 0, 2}, 80), 5}});
  CHECK_THAT(sockleak::linger_hint(g), Catch::Contains("127.0.0.1:8080"));
}

TEST_CASE("CLOSE_WAIT without a dominant peer gives the generic close() hint", "[hints]") {
  const LingerGroup g = group(TcpState::kCloseWait, 10,
                              {{v4({10, 0, 0, 1}, 80), 4}, {v4({10, 0, 0, 2}, 80), 3}, {v4({10, 0, 0, 3}, 80), 3}});
  const std::string hint = sockleak::linger_hint(g);
  CHECK_THAT(hint, Catch::Contains("close()") && Catch::StartsWith("peers"));
  CHECK_THAT(hint, !Catch::Contains("10.0.0.1"));
}

TEST_CASE("ESTABLISHED with one dominant peer points at keep-alive reuse", "[hints]") {
  const LingerGroup g = group(TcpState::kEstablished, 6, {{v4({192, 168, 1, 5}, 443), 6}});
  const std::string hint = sockleak::linger_hint(g);
  CHECK_THAT(hint, Catch::Contains("192.168.1.5:443") && Catch::Contains("keep-alive"));
}

TEST_CASE("IPv6 peers are bracketed in hints", "[hints]") {
  const TcpState state = GENERATE(TcpState::kCloseWait, TcpState::kEstablished);
  const LingerGroup g = group(state, 3, {{v6_loopback(443), 3}});
  CHECK_THAT(sockleak::linger_hint(g), Catch::Contains("[::1]:443"));
}

TEST_CASE("ESTABLISHED without a dominant peer gives the generic many-peers hint", "[hints]") {
  const LingerGroup g =
      group(TcpState::kEstablished, 10, {{v4({10, 0, 0, 1}, 80), 4}, {v4({10, 0, 0, 2}, 80), 3}});
  const std::string hint = sockleak::linger_hint(g);
  CHECK_THAT(hint, Catch::Contains("many peers"));
  CHECK_THAT(hint, !Catch::Contains("10.0.0.1") && !Catch::Contains("keep-alive"));
}

TEST_CASE("a group without peer data gets the generic hint for its state", "[hints]") {
  CHECK_THAT(sockleak::linger_hint(group(TcpState::kEstablished, 4, {})), Catch::Contains("many peers"));
  CHECK_THAT(sockleak::linger_hint(group(TcpState::kCloseWait, 4, {})),
             Catch::StartsWith("peers") && Catch::Contains("close()"));
}
