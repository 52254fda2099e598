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

// An executable file as one process image maps it: inode and device (kernel encoding,
// major << 20 | minor) and a layout fingerprint that every exec changes and fork keeps.
// ino 0: unknown.
struct ExeId {
  uint64_t ino = 0;
  uint32_t dev = 0;
  uint64_t layout = 0;
  bool known() const { return ino != 0; }
  auto operator<=>(const ExeId&) const = default;
};

}  // namespace sockleak
