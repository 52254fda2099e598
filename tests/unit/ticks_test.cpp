// Elapsed ticks between 32-bit jiffies stamps: the arithmetic the BPF program compiles from
// bpf/sl_ticks.h, tested here from the same file.
#include <cstdint>

#include <catch2/catch.hpp>

#include "sl_ticks.h"

namespace {
constexpr uint32_t kDay1000Hz = 86'400'000;  // ticks per day at HZ=1000
}

TEST_CASE("a socket idle for 30 days at 1000 Hz is 30 days idle, across the signed limit", "[ticks]") {
  const uint32_t last = 4'000'000'000u;
  const uint32_t now = last + 30 * kDay1000Hz;  // wraps past 2^32, and is past 2^31 ticks later
  CHECK(sl_ticks_since(now, last) == 30 * kDay1000Hz);
  CHECK(sl_ticks_since_either(now, last, last - 5) == 30 * kDay1000Hz);
}

TEST_CASE("the later of the sent and received stamps decides, however far apart they are", "[ticks]") {
  const uint32_t now = 123'456u;
  const uint32_t sent_40_days_ago = now - 40 * kDay1000Hz;
  const uint32_t received_2s_ago = now - 2'000;
  CHECK(sl_ticks_since_either(now, sent_40_days_ago, received_2s_ago) == 2'000);
  CHECK(sl_ticks_since_either(now, received_2s_ago, sent_40_days_ago) == 2'000);
}

TEST_CASE("a stamp a little ahead of the reading is no time at all, not 49 days", "[ticks]") {
  CHECK(sl_ticks_since(1'000, 1'003) == 0);
  CHECK(sl_ticks_since(5, 0xfffffff0u) == 21);  // the counter itself wrapped
  CHECK(sl_ticks_since(500, 500) == 0);
}
