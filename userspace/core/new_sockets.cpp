#include "core/new_sockets.h"

#include <algorithm>

namespace sockleak {

std::vector<uint64_t> NewSockets::marks() const {
  std::vector<uint64_t> out;
  out.reserve(cpus_.size());
  for (const sl_new_socks& cpu : cpus_) out.push_back(cpu.written);
  return out;
}

std::optional<std::vector<uint64_t>> NewSockets::since(const std::vector<uint64_t>& marks) const {
  if (marks.size() != cpus_.size() || cpus_.empty()) return std::nullopt;
  std::vector<uint64_t> out;
  for (size_t i = 0; i < cpus_.size(); ++i) {
    const sl_new_socks& cpu = cpus_[i];
    if (cpu.written < marks[i] || cpu.written - marks[i] > SL_NEW_SLOTS / 2) return std::nullopt;
    for (uint64_t n = marks[i]; n < cpu.written; ++n) out.push_back(cpu.sk[n % SL_NEW_SLOTS]);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  std::erase(out, 0);
  return out;
}

}  // namespace sockleak
