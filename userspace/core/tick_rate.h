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
  bool from_uptime = false; // decided by one reading against uptime, not by timing ticks
};

// HZ from one reading of jiffies_64 and CLOCK_MONOTONIC (both count from boot). The kernel
// starts jiffies_64 at 2^32 - 300*HZ (INITIAL_JIFFIES, so that 32-bit jiffies wrap five
// minutes after boot), hence jiffies_64 - 2^32 = HZ * (uptime - 300 s). Only one of x86's
// rates fits a reading taken well away from 300 s of uptime; nullopt when none fits or two
// fit nearly alike (close to 300 s): then time tick edges instead. Needs no quiet CPU.
std::optional<TickRate> tick_rate_from_uptime(uint64_t jiffies64, uint64_t monotonic_ns);

// HZ from two edges: ticks between them over the time between them. nullopt when the edges
// are unusable (no ticks, no time, or a timing window too wide to tell 250 from 300).
std::optional<TickRate> tick_rate_between(const TickEdge& first, const TickEdge& second);

}  // namespace sockleak
