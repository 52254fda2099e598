#include "core/hints.h"

namespace sockleak {
namespace {

// One peer holds at least half of the group's sockets.
const PeerCount* dominant_peer(const LingerGroup& g) {
  if (g.top_peers.empty() || g.top_peers.front().count * 2 < g.count) return nullptr;
  return &g.top_peers.front();
}

}  // namespace

LingerCause linger_cause(const LingerGroup& g) {
  if (g.listen) return LingerCause::kNeverAccepted;
  if (g.state == TcpState::kCloseWait) return LingerCause::kPeerClosed;
  return g.unread_count * 2 > g.count ? LingerCause::kUndrained : LingerCause::kIdle;
}

std::string_view cause_name(LingerCause cause) {
  switch (cause) {
    case LingerCause::kPeerClosed: return "peer_closed";
    case LingerCause::kUndrained: return "undrained";
    case LingerCause::kIdle: return "idle";
    case LingerCause::kNeverAccepted: return "never_accepted";
  }
  return "idle";
}

std::string linger_hint(const LingerGroup& g) {
  const PeerCount* peer = dominant_peer(g);
  const std::string to = peer ? " to " + peer->peer.to_string() : "";
  switch (linger_cause(g)) {
    case LingerCause::kPeerClosed:
      return (peer ? "the peer " + peer->peer.to_string() : std::string("peers")) +
             " closed these connections but the process never called close(): "
             "response bodies or accepted connections not closed";
    case LingerCause::kUndrained:
      return "idle connections" + to +
             " with unread data in the receive queue: responses not read to the end (bodies not drained), "
             "so keep-alive connections cannot be reused";
    case LingerCause::kIdle:
      break;
    case LingerCause::kNeverAccepted:
      return "connections to " + g.listen->to_string() +
             " wait in the accept queue: the kernel completed them but the process stopped calling accept()";
  }
  if (peer) {
    return "idle connections to " + peer->peer.to_string() +
           " pile up: keep-alive connections not reused (bodies not drained?) or a new client per request";
  }
  return "idle connections to many peers: connections opened and forgotten, or a pool far larger than needed";
}

std::string_view cause_advice(LingerCause cause) {
  switch (cause) {
    case LingerCause::kPeerClosed:
      return "The peer closed these connections (its FIN arrived) but this process never called close() on "
             "them. Typical code: an HTTP response body that is not closed (Go: resp, err := http.Get(u) "
             "without defer resp.Body.Close()), an accepted connection whose handler returns or fails "
             "without closing it, an error path that skips close(). Fix: close on every path "
             "(defer / RAII / try-with-resources).";
    case LingerCause::kUndrained:
      return "These idle connections still have unread data in their receive queue: responses are not read "
             "to the end, so the client library cannot reuse the connection and opens new ones. Fix: read "
             "bodies to EOF before closing them (Go: io.Copy(io.Discard, resp.Body); resp.Body.Close()).";
    case LingerCause::kIdle:
      return "These connections are open, idle and fully read. Typical code: a new HTTP client or transport "
             "per request (each with its own pool), or a pool far larger than the load. Fix: share one "
             "client; bound idle connections and their lifetime (Go: Transport.MaxIdleConnsPerHost, "
             "IdleConnTimeout; close idle connections when done).";
    case LingerCause::kNeverAccepted:
      return "The kernel completed these connections on a socket this process listens on, but nothing ever "
             "accepted them: they wait in the listen socket's accept queue (ss shows them with no process). "
             "Typical code: an accept loop that stopped (it returned on an error such as EMFILE, or it is "
             "blocked in a handler), a worker pool that is exhausted, or a listen socket inherited by a "
             "process that never accepts (a fork or exec without CLOEXEC). Fix: keep accepting on every "
             "error, accept before dispatching to workers, close listen sockets a process does not serve.";
  }
  return "";
}

}  // namespace sockleak
