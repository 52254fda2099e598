// The kernel's tick rate (HZ), learned without the kernel config file: two tick edges of
// jiffies_64 timed against CLOCK_MONOTONIC, snapped to a rate kernels are built with.
#pragma once

#include <cstdint>
#include <optional>

namespace sockleak {

// The first reading at which the tick counter showed a new value, and the clock interval
// in which it changed (the readings just before and at the change).
struct TickEdge {
  uint64_t jiffies = 0;
  uint64_t before_ns = 0;
  uint64_t at_ns = 0;
};

struct TickRate {
  uint32_t hz = 0;          // what sockleak uses
  double measured_hz = 0;   // what the clocks said
  bool snapped = false;     // hz is a configurable CONFIG_HZ value close to the measurement
};

// HZ from two edges: ticks between them over the time between them. nullopt when the edges
// are unusable (no ticks, no time, or a timing window too wide to tell 250 from 300).
std::optional<TickRate> tick_rate_between(const TickEdge& first, const TickEdge& second);

}  // namespace sockleak
