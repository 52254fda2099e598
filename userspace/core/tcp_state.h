// Kernel TCP states (include/net/tcp_states.h) and their names as ss prints them.
#pragma once

#include <cstdint>
#include <string_view>

namespace sockleak {

enum class TcpState : uint32_t {
  kEstablished = 1,
  kSynSent = 2,
  kSynRecv = 3,
  kFinWait1 = 4,
  kFinWait2 = 5,
  kTimeWait = 6,
  kClose = 7,
  kCloseWait = 8,
  kLastAck = 9,
  kListen = 10,
  kClosing = 11,
  kNewSynRecv = 12,
};

// "CLOSE_WAIT", "ESTABLISHED", ...; "UNKNOWN" for values outside the kernel's set.
std::string_view state_name(TcpState state);

// The states sockleak reports lingering sockets in.
inline bool is_linger_state(TcpState s) {
  return s == TcpState::kCloseWait || s == TcpState::kEstablished;
}

}  // namespace sockleak
