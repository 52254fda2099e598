// Raw bytes from the ring buffer and iterators to typed records, with size checks.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "core/abi.h"

namespace sockleak {

// nullopt when the size does not match or the kind is unknown (a newer/older kernel
// object): the caller counts it as malformed instead of misreading memory.
std::optional<sl_event> decode_event(std::span<const std::byte> bytes);
// The larger record of SL_EV_EXIT_CLOSE (`exec`); nullopt for anything else.
std::optional<sl_exit_close> decode_exit_close(std::span<const std::byte> bytes);

// Iterator output is a packed array of sl_sock_row (socket iterators) or sl_capturer
// (list_executables). Throws Error when a trailing partial record shows a reader/writer
// mismatch.
std::vector<sl_sock_row> decode_rows(std::span<const std::byte> bytes);
std::vector<sl_capturer> decode_executables(std::span<const std::byte> bytes);

}  // namespace sockleak
