// Why sockets linger, from kernel state, and what to change in the code: the cause of
// a linger group, a one-line hint for records, and advice for `sockleak explain`.
#pragma once

#include <string>
#include <string_view>

#include "core/socket_table.h"

namespace sockleak {

enum class LingerCause {
  kPeerClosed,  // CLOSE_WAIT: the peer closed, the process never called close()
  kUndrained,   // idle ESTABLISHED with unread data: responses not read to the end
  kIdle,        // idle ESTABLISHED, nothing unread: pool not reused / client per request
  kNeverAccepted,  // in a listener's accept queue: the process stopped calling accept()
};

// Idle ESTABLISHED groups are "undrained" when most of their sockets hold unread data.
LingerCause linger_cause(const LingerGroup& group);
std::string_view cause_name(LingerCause cause);  // "peer_closed", "undrained", "idle", "never_accepted"
std::string linger_hint(const LingerGroup& group);
// A short paragraph: what usually causes this in code and how to fix it.
std::string_view cause_advice(LingerCause cause);

}  // namespace sockleak
