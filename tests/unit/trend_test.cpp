// TrendTracker: leak rate by least squares over a window, and the EMFILE forecast from
// fd growth. Driven by a fake clock (plain now_ns values).
#include <cstdint>
#include <optional>

#include <catch2/catch.hpp>

#include "core/trend.h"

using namespace std::chrono_literals;
using sockleak::ProcessKey;
using sockleak::TcpState;
using sockleak::TrendTracker;

namespace {

constexpr uint64_t kSec = 1'000'000'000ull;
constexpr uint64_t kStart = 5'000 * kSec;  // an arbitrary CLOCK_MONOTONIC origin

const ProcessKey kServer{100, 1'000};
const ProcessKey kWorker{200, 2'000};

uint64_t at(uint64_t seconds) { return kStart + seconds * kSec; }

}  // namespace

// ---- leak rate ----

TEST_CASE("steady growth of 10 sockets every 10 seconds is a leak rate of 60 per minute", "[trend]") {
  TrendTracker trend;
  for (uint32_t i = 0; i <= 6; ++i) trend.observe_lingering(kServer, TcpState::kCloseWait, at(i * 10), i * 10);
  const auto rate = trend.leak_rate_per_minute(kServer, TcpState::kCloseWait);
  REQUIRE(rate.has_value());
  CHECK(*rate == Approx(60.0));
}

TEST_CASE("a flat count is a leak rate of zero", "[trend]") {
  TrendTracker trend;
  for (uint32_t i = 0; i <= 6; ++i) trend.observe_lingering(kServer, TcpState::kCloseWait, at(i * 10), 42);
  const auto rate = trend.leak_rate_per_minute(kServer, TcpState::kCloseWait);
  REQUIRE(rate.has_value());
  CHECK(*rate == Approx(0.0).margin(1e-9));
}

TEST_CASE("a shrinking count is a negative leak rate", "[trend]") {
  TrendTracker trend;
  trend.observe_lingering(kServer, TcpState::kEstablished, at(0), 30);
  trend.observe_lingering(kServer, TcpState::kEstablished, at(30), 0);
  const auto rate = trend.leak_rate_per_minute(kServer, TcpState::kEstablished);
  REQUIRE(rate.has_value());
  CHECK(*rate == Approx(-60.0));
}

TEST_CASE("the least-squares rate follows the trend through noisy samples", "[trend]") {
  // 1 socket per second with alternating noise (+2, -1): the fit stays near 60/min.
  TrendTracker trend;
  const uint32_t noisy[] = {2, 0, 4, 2, 6, 4, 8, 6, 10, 8};
  for (uint32_t i = 0; i < 10; ++i) trend.observe_lingering(kServer, TcpState::kCloseWait, at(i), noisy[i]);
  const auto rate = trend.leak_rate_per_minute(kServer, TcpState::kCloseWait);
  REQUIRE(rate.has_value());
  CHECK(*rate == Approx(60.0).epsilon(0.2));
  CHECK(*rate > 0);
}

TEST_CASE("no leak rate from a single sample", "[trend]") {
  TrendTracker trend;
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(0), 10);
  CHECK_FALSE(trend.leak_rate_per_minute(kServer, TcpState::kCloseWait).has_value());
}

TEST_CASE("no leak rate from samples less than a second apart", "[trend]") {
  TrendTracker trend;
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(0), 10);
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(0) + 500'000'000, 20);
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(0) + 999'999'999, 30);
  CHECK_FALSE(trend.leak_rate_per_minute(kServer, TcpState::kCloseWait).has_value());

  // Exactly one second of span is enough.
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(1), 40);
  CHECK(trend.leak_rate_per_minute(kServer, TcpState::kCloseWait).has_value());
}

TEST_CASE("a second sample at the same instant replaces the first rather than adding a point", "[trend]") {
  TrendTracker trend;
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(0), 1000);
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(0), 0);  // replaces 1000
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(60), 60);
  const auto rate = trend.leak_rate_per_minute(kServer, TcpState::kCloseWait);
  REQUIRE(rate.has_value());
  CHECK(*rate == Approx(60.0));
}

TEST_CASE("no leak rate for a process or state never observed", "[trend]") {
  TrendTracker trend;
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(0), 0);
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(10), 10);
  CHECK_FALSE(trend.leak_rate_per_minute(kWorker, TcpState::kCloseWait).has_value());
  CHECK_FALSE(trend.leak_rate_per_minute(kServer, TcpState::kEstablished).has_value());
  // Same pid, another start time: another process.
  CHECK_FALSE(trend.leak_rate_per_minute(ProcessKey{kServer.pid, kServer.start_ns + 1}, TcpState::kCloseWait)
                  .has_value());
}

TEST_CASE("processes and states keep separate histories", "[trend]") {
  TrendTracker trend;
  for (uint32_t i = 0; i <= 6; ++i) {
    trend.observe_lingering(kServer, TcpState::kCloseWait, at(i * 10), i * 10);       // 60/min
    trend.observe_lingering(kServer, TcpState::kEstablished, at(i * 10), 5);          // flat
    trend.observe_lingering(kWorker, TcpState::kCloseWait, at(i * 10), 100 - i * 5);  // -30/min
  }
  CHECK(*trend.leak_rate_per_minute(kServer, TcpState::kCloseWait) == Approx(60.0));
  CHECK(*trend.leak_rate_per_minute(kServer, TcpState::kEstablished) == Approx(0.0).margin(1e-9));
  CHECK(*trend.leak_rate_per_minute(kWorker, TcpState::kCloseWait) == Approx(-30.0));
}

// ---- window ----

TEST_CASE("pruning drops samples older than the window, so an old burst no longer affects the rate", "[trend]") {
  TrendTracker trend(1min);
  // A burst long ago: 0 -> 500 in 5 seconds.
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(0), 0);
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(5), 500);
  // Then flat at 500 for a minute and a half.
  for (uint64_t s = 10; s <= 100; s += 10) trend.observe_lingering(kServer, TcpState::kCloseWait, at(s), 500);

  const auto before = trend.leak_rate_per_minute(kServer, TcpState::kCloseWait);
  REQUIRE(before.has_value());
  CHECK(*before > 1.0);  // the burst still pulls the fit up

  trend.prune(at(100));  // keeps samples from t=40s on
  const auto after = trend.leak_rate_per_minute(kServer, TcpState::kCloseWait);
  REQUIRE(after.has_value());
  CHECK(*after == Approx(0.0).margin(1e-9));
}

TEST_CASE("a sample exactly at the window's edge survives pruning", "[trend]") {
  TrendTracker trend(1min);
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(0), 0);
  trend.observe_lingering(kServer, TcpState::kCloseWait, at(60), 60);
  trend.prune(at(60));
  const auto rate = trend.leak_rate_per_minute(kServer, TcpState::kCloseWait);
  REQUIRE(rate.has_value());
  CHECK(*rate == Approx(60.0));
}

TEST_CASE("pruning forgets a process not observed within the window", "[trend]") {
  TrendTracker trend(1min);
  trend.observe_lingering(kWorker, TcpState::kCloseWait, at(0), 0);
  trend.observe_lingering(kWorker, TcpState::kCloseWait, at(10), 10);
  trend.observe_fds(kWorker, at(0), 10);
  trend.observe_fds(kWorker, at(10), 20);
  REQUIRE(trend.leak_rate_per_minute(kWorker, TcpState::kCloseWait).has_value());
  REQUIRE(trend.seconds_to_emfile(kWorker, 20, 100).has_value());

  trend.prune(at(200));
  CHECK_FALSE(trend.leak_rate_per_minute(kWorker, TcpState::kCloseWait).has_value());
  CHECK_FALSE(trend.seconds_to_emfile(kWorker, 20, 100).has_value());

  // A new history starts from scratch: one fresh sample is not enough.
  trend.observe_lingering(kWorker, TcpState::kCloseWait, at(201), 50);
  CHECK_FALSE(trend.leak_rate_per_minute(kWorker, TcpState::kCloseWait).has_value());
}

TEST_CASE("pruning early in the clock (now below the window) keeps everything", "[trend]") {
  TrendTracker trend(10min);
  trend.observe_lingering(kServer, TcpState::kCloseWait, 0, 0);
  trend.observe_lingering(kServer, TcpState::kCloseWait, 60 * kSec, 60);
  trend.prune(60 * kSec);
  const auto rate = trend.leak_rate_per_minute(kServer, TcpState::kCloseWait);
  REQUIRE(rate.has_value());
  CHECK(*rate == Approx(60.0));
}

// ---- EMFILE forecast ----

TEST_CASE("fds growing 2 per second with 100 left run out in about 50 seconds", "[trend]") {
  TrendTracker trend;
  for (uint64_t s = 0; s <= 10; ++s) trend.observe_fds(kServer, at(s), 880 + 2 * s);
  const auto eta = trend.seconds_to_emfile(kServer, 900, 1000);
  REQUIRE(eta.has_value());
  CHECK(*eta == Approx(50.0));
}

TEST_CASE("no EMFILE forecast when fds are not growing", "[trend]") {
  TrendTracker trend;
  SECTION("flat") {
    for (uint64_t s = 0; s <= 10; ++s) trend.observe_fds(kServer, at(s), 900);
  }
  SECTION("shrinking") {
    for (uint64_t s = 0; s <= 10; ++s) trend.observe_fds(kServer, at(s), 900 - s);
  }
  CHECK_FALSE(trend.seconds_to_emfile(kServer, 900, 1000).has_value());
}

TEST_CASE("no EMFILE forecast from too few samples", "[trend]") {
  TrendTracker trend;
  CHECK_FALSE(trend.seconds_to_emfile(kServer, 900, 1000).has_value());
  trend.observe_fds(kServer, at(0), 900);
  CHECK_FALSE(trend.seconds_to_emfile(kServer, 900, 1000).has_value());
  trend.observe_fds(kServer, at(0) + 100'000'000, 950);  // 100ms later: too close
  CHECK_FALSE(trend.seconds_to_emfile(kServer, 950, 1000).has_value());
}

TEST_CASE("a growing process at or over its fd limit has zero seconds to EMFILE", "[trend]") {
  TrendTracker trend;
  for (uint64_t s = 0; s <= 10; ++s) trend.observe_fds(kServer, at(s), 990 + s);
  const auto at_limit = trend.seconds_to_emfile(kServer, 1000, 1000);
  REQUIRE(at_limit.has_value());
  CHECK(*at_limit == 0.0);
  const auto over = trend.seconds_to_emfile(kServer, 1200, 1000);
  REQUIRE(over.has_value());
  CHECK(*over == 0.0);
}

TEST_CASE("fd histories are per process", "[trend]") {
  TrendTracker trend;
  for (uint64_t s = 0; s <= 10; ++s) {
    trend.observe_fds(kServer, at(s), 100 + 10 * s);  // 10/s
    trend.observe_fds(kWorker, at(s), 100);           // flat
  }
  CHECK(*trend.seconds_to_emfile(kServer, 200, 1200) == Approx(100.0));
  CHECK_FALSE(trend.seconds_to_emfile(kWorker, 100, 1200).has_value());
}

TEST_CASE("constant counts sampled at irregular real-clock instants are exactly not growing", "[trend]") {
  // As a report loop samples: ~1 s apart with jitter, on a clock days past boot. The fit's
  // rounding once gave 5e-13 per minute and an EMFILE forecast of 2.4e18 seconds.
  TrendTracker trend;
  const uint64_t origin = 372'811 * kSec + 123'456'789;
  uint64_t t = origin;
  for (int i = 0; i < 26; ++i) {
    t += kSec + static_cast<uint64_t>((i * 7919) % 3'000'000);
    trend.observe_lingering(kServer, TcpState::kCloseWait, t, 37);
    trend.observe_fds(kServer, t, 45);
  }
  REQUIRE(trend.leak_rate_per_minute(kServer, TcpState::kCloseWait));
  CHECK(*trend.leak_rate_per_minute(kServer, TcpState::kCloseWait) == 0.0);
  CHECK_FALSE(trend.seconds_to_emfile(kServer, 45, 20000));
}
