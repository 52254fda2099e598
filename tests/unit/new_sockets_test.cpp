// NewSockets: which sockets reached ESTABLISHED since a reconcile, from the state hook's
// per-CPU notes (sl_new_socks), and when those notes cannot say.
#include <cstdint>
#include <optional>
#include <vector>

#include <catch2/catch.hpp>

#include "core/new_sockets.h"

using sockleak::NewSockets;

namespace {

// A CPU that noted the sockets first, first + 1, ... (count of them) after `before` others.
sl_new_socks noted(uint64_t before, uint64_t count, uint64_t first) {
  sl_new_socks cpu{};
  for (uint64_t i = 0; i < before + count; ++i) {
    cpu.sk[i % SL_NEW_SLOTS] = i < before ? 0xdead : first + (i - before);
  }
  cpu.written = before + count;
  return cpu;
}

}  // namespace

TEST_CASE("new sockets are those every CPU noted since the marks, each once", "[unit]") {
  const NewSockets news({noted(5, 3, 100), noted(0, 2, 200)});
  CHECK(news.marks() == std::vector<uint64_t>{8, 2});
  const auto fresh = news.since({5, 0});
  REQUIRE(fresh);
  CHECK(*fresh == std::vector<uint64_t>{100, 101, 102, 200, 201});
  CHECK(news.since({8, 2}) == std::vector<uint64_t>{});  // nothing since

  // One address noted twice (a socket born at a freed one's address), and on two CPUs.
  sl_new_socks again = noted(0, 2, 300);
  again.sk[1] = 300;
  const NewSockets twice({again, noted(0, 1, 300)});
  CHECK(twice.since({0, 0}) == std::vector<uint64_t>{300});
}

TEST_CASE("slots are reused in a ring: notes past the slot count are read where they wrapped", "[unit]") {
  const uint64_t before = 3 * SL_NEW_SLOTS - 2;  // the next four wrap around the end
  const NewSockets news({noted(before, 4, 500)});
  CHECK(news.since({before}) == std::vector<uint64_t>{500, 501, 502, 503});
}

TEST_CASE("new sockets cannot be named without marks, or when a CPU noted half its slots since", "[unit]") {
  const NewSockets news({noted(0, SL_NEW_SLOTS / 2, 1), noted(0, SL_NEW_SLOTS / 2 + 1, 1000)});
  CHECK_FALSE(news.since({}));       // no walk of every new socket yet
  CHECK_FALSE(news.since({0}));      // marks of another CPU count
  CHECK_FALSE(news.since({0, 0}));   // the second CPU: its oldest may be overwritten now
  CHECK(news.since({0, 1}));         // half: all still there
  CHECK_FALSE(news.since({0, SL_NEW_SLOTS}));  // a count that went back
  CHECK_FALSE(NewSockets().since({}));  // the map could not be read
}
