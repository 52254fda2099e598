#include "core/event_decoder.h"

#include <cstring>
#include <string>

#include "core/error.h"

namespace sockleak {

std::optional<sl_event> decode_event(std::span<const std::byte> bytes) {
  if (bytes.size() != sizeof(sl_event)) return std::nullopt;
  sl_event ev;
  std::memcpy(&ev, bytes.data(), sizeof ev);
  switch (ev.kind) {
    case SL_EV_STATE:
    case SL_EV_FD_CLOSE:
    case SL_EV_CLOSE_RANGE:
      return ev;
    default:
      return std::nullopt;
  }
}

std::vector<sl_sock_row> decode_rows(std::span<const std::byte> bytes) {
  if (bytes.size() % sizeof(sl_sock_row) != 0) {
    throw Error("iterator output of " + std::to_string(bytes.size()) +
                " bytes is not a whole number of " + std::to_string(sizeof(sl_sock_row)) +
                "-byte rows: BPF object and binary disagree on sl_sock_row");
  }
  std::vector<sl_sock_row> rows(bytes.size() / sizeof(sl_sock_row));
  if (!rows.empty()) std::memcpy(rows.data(), bytes.data(), bytes.size());
  return rows;
}

}  // namespace sockleak
