#include "core/hints.h"

namespace sockleak {
namespace {

// One peer holds at least half of the group's sockets.
const PeerCount* dominant_peer(const LingerGroup& g) {
  if (g.top_peers.empty() || g.top_peers.front().count * 2 < g.count) return nullptr;
  return &g.top_peers.front();
}

}  // namespace

std::string linger_hint(const LingerGroup& g) {
  const PeerCount* peer = dominant_peer(g);
  if (g.state == TcpState::kCloseWait) {
    std::string who = peer ? "the peer " + peer->peer.to_string() : "peers";
    return who + " closed these connections but the process never called close(): "
                 "response bodies or accepted connections not closed";
  }
  if (peer) {
    return "idle connections to " + peer->peer.to_string() +
           " pile up: keep-alive connections not reused (bodies not drained?) or a new client per request";
  }
  return "idle connections to many peers: connections opened and forgotten, or a pool far larger than needed";
}

}  // namespace sockleak
