// ProcessKey: PIDs are reused, so a process is its tgid plus its start time (boottime ns).
#pragma once

#include <compare>
#include <cstdint>

namespace sockleak {

struct ProcessKey {
  uint32_t pid = 0;
  uint64_t start_ns = 0;
  auto operator<=>(const ProcessKey&) const = default;
};

}  // namespace sockleak
