// Kernel support without a config file: the tick rate from two timed tick edges, and the
// one-line refusal that names a missing feature and the first kernel with it.
#include <string>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/kernel_features.h"
#include "core/tick_rate.h"
#include "output/features_page.h"

using sockleak::Feature;
using sockleak::KernelFeatures;
using sockleak::TickEdge;

namespace {

// Two edges span ticks at hz, each seen within window_ns of its real time.
std::pair<TickEdge, TickEdge> edges(double hz, uint64_t ticks, uint64_t window_ns) {
  const uint64_t start = 5'000'000'000;
  const auto end = start + static_cast<uint64_t>(static_cast<double>(ticks) * 1e9 / hz);
  return {TickEdge{1000, start - window_ns / 2, start + window_ns / 2},
          TickEdge{1000 + ticks, end - window_ns / 2, end + window_ns / 2}};
}

KernelFeatures everything() {
  KernelFeatures k;
  k.probed = true;
  k.release = "6.1.0-test";
  k.available.fill(true);
  return k;
}

}  // namespace

TEST_CASE("tick edges timed against the monotonic clock give the kernel's HZ", "[tick_rate]") {
  for (double hz : {100.0, 250.0, 300.0, 1000.0}) {
    const auto [a, b] = edges(hz, static_cast<uint64_t>(hz / 20), 20'000);  // 50 ms, 20 us windows
    const auto rate = sockleak::tick_rate_between(a, b);
    REQUIRE(rate);
    CHECK(rate->snapped);
    CHECK(rate->hz == static_cast<uint32_t>(hz));
  }
}

TEST_CASE("a late tick interrupt within tolerance still snaps to the configured rate", "[tick_rate]") {
  auto [a, b] = edges(250, 10, 20'000);  // 40 ms
  b.before_ns += 1'000'000;              // the second edge seen 1 ms late (2.5%)
  b.at_ns += 1'000'000;
  const auto rate = sockleak::tick_rate_between(a, b);
  REQUIRE(rate);
  CHECK(rate->hz == 250);
}

TEST_CASE("edges too blurred to tell 250 from 300 are refused, not guessed", "[tick_rate]") {
  const auto [a, b] = edges(250, 10, 4'000'000);  // 4 ms windows over 40 ms
  CHECK_FALSE(sockleak::tick_rate_between(a, b));
  CHECK_FALSE(sockleak::tick_rate_between(b, a));
  CHECK_FALSE(sockleak::tick_rate_between(a, a));
}

TEST_CASE("a kernel lacking a required feature is refused in one line naming it and its first kernel",
          "[kernel_features]") {
  KernelFeatures k = everything();
  k.available[static_cast<size_t>(Feature::kTaskFileIterator)] = false;
  k.detail[static_cast<size_t>(Feature::kTaskFileIterator)] = "the kernel has no bpf_iter_task_file";
  try {
    sockleak::require_supported(k);
    FAIL("accepted a kernel without task_file iterators");
  } catch (const sockleak::Error& e) {
    const std::string message = e.what();
    CHECK(e.exit_code() == sockleak::kExitUnsupported);
    CHECK(message.find("iter/task_file") != std::string::npos);
    CHECK(message.find("first in Linux 5.8") != std::string::npos);
    CHECK(message.find("6.1.0-test") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("scans need one of two ways to walk the socket map: the map iterator or the map walk helper",
          "[kernel_features]") {
  KernelFeatures k = everything();
  k.available[static_cast<size_t>(Feature::kMapElemIterator)] = false;
  k.detail[static_cast<size_t>(Feature::kMapElemIterator)] = "Operation not permitted: refused by the kernel's policy";
  CHECK_NOTHROW(sockleak::require_supported(k));  // the policy of this machine's kernel
  k.available[static_cast<size_t>(Feature::kMapWalkHelper)] = false;
  k.detail[static_cast<size_t>(Feature::kMapWalkHelper)] = "the kernel has no bpf_for_each_map_elem()";
  try {
    sockleak::require_supported(k);
    FAIL("accepted a kernel with neither way to walk the socket map");
  } catch (const sockleak::Error& e) {
    const std::string message = e.what();
    CHECK(e.exit_code() == sockleak::kExitUnsupported);
    CHECK(message.find("iter/bpf_map_elem, first in Linux 5.9") != std::string::npos);
    CHECK(message.find("[Operation not permitted") != std::string::npos);
    CHECK(message.find("bpf_for_each_map_elem() in a program run on demand (BPF_PROG_RUN), first in Linux 5.13 "
                       "[the kernel has no bpf_for_each_map_elem()]") != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
  }
}

TEST_CASE("optional features missing are fallbacks, not refusals", "[kernel_features]") {
  KernelFeatures k = everything();
  k.available[static_cast<size_t>(Feature::kSocketCookie)] = false;
  k.available[static_cast<size_t>(Feature::kSockFromFile)] = false;
  CHECK_NOTHROW(sockleak::require_supported(k));
  sockleak::FeaturesReport report{k, sockleak::TickRate{250, 250.2, true}, "", "uid=65534 caps=0"};
  const auto json = sockleak::features_json(report);
  CHECK(json["supported"] == true);
  CHECK(json["tick_rate"]["hz"] == 250);
  CHECK(json["symbolizer"] == "uid=65534 caps=0");
  int fallbacks = 0;
  for (const auto& f : json["features"]) {
    if (f["path"] == "fallback") {
      ++fallbacks;
      CHECK_FALSE(f["cost"].get<std::string>().empty());
    }
  }
  CHECK(fallbacks == 2);
  CHECK(sockleak::features_text(report).find("sockleak runs here") != std::string::npos);
}

TEST_CASE("every feature has a name, a first kernel and, if optional, a fallback with its cost",
          "[kernel_features]") {
  for (const sockleak::FeatureInfo& info : sockleak::feature_table()) {
    CHECK(sockleak::feature_named(info.name) == info.feature);
    CHECK_FALSE(info.first_kernel.empty());
    CHECK(info.fallback.empty() == info.fallback_cost.empty());
  }
  CHECK_FALSE(sockleak::feature_named("no_such_feature"));
}

TEST_CASE("a tick rate measured 2% high in a busy VM is still the kernel's 250 Hz", "[tick_rate]") {
  const auto [a, b] = edges(255.3, 13, 20'000);
  const auto rate = sockleak::tick_rate_between(a, b);
  REQUIRE(rate);
  CHECK(rate->hz == 250);
}

namespace {
// jiffies_64 on a kernel at hz, uptime seconds after boot (INITIAL_JIFFIES = 2^32 - 300*HZ).
uint64_t jiffies_at(uint32_t hz, double uptime) {
  return (1ull << 32) - 300ull * hz + static_cast<uint64_t>(uptime * hz);
}
}  // namespace

TEST_CASE("one reading of jiffies_64 against uptime names the rate, loaded CPU or not", "[tick_rate]") {
  for (uint32_t hz : {100u, 250u, 300u, 1000u}) {
    for (double uptime : {12.0, 45.0, 3786.0, 86400.0 * 40}) {
      // The two clocks start a moment apart at boot.
      const auto rate = sockleak::tick_rate_from_uptime(jiffies_at(hz, uptime - 1.5),
                                                        static_cast<uint64_t>(uptime * 1e9));
      REQUIRE(rate);
      CHECK(rate->hz == hz);
      CHECK(rate->from_uptime);
    }
  }
}

TEST_CASE("close to 300 s of uptime the rates cannot be told apart that way: ask for timed edges", "[tick_rate]") {
  CHECK_FALSE(sockleak::tick_rate_from_uptime(jiffies_at(250, 305), 305'000'000'000ull));
  // Nothing fits (a clock that is not what it should be): no guess either.
  CHECK_FALSE(sockleak::tick_rate_from_uptime(jiffies_at(250, 900), 400'000'000'000ull));
}
