// AlertEngine: rules over per-process observations, fired once per crossing and
// resolved only after `resolve_after` consecutive evaluations below.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/alert_engine.h"

using namespace std::chrono_literals;
using sockleak::AlertEngine;
using sockleak::AlertRules;
using sockleak::AlertTransition;
using sockleak::ProcessKey;
using sockleak::ProcessObservation;

namespace {

const ProcessKey kServer{4242, 123'456'789};
const ProcessKey kWorker{777, 5'000};

// Only the CLOSE_WAIT count rule armed, at 10, resolving after 2 evaluations below.
AlertRules close_wait_rules(uint32_t threshold = 10, uint32_t resolve_after = 2) {
  AlertRules r;
  r.close_wait_count = threshold;
  r.fd_ratio = 1.0;
  r.emfile_within = 0s;
  r.resolve_after = resolve_after;
  return r;
}

ProcessObservation holding(ProcessKey process, uint32_t close_wait, std::string name = "server") {
  ProcessObservation o;
  o.process = process;
  o.name = std::move(name);
  o.close_wait = close_wait;
  return o;
}

ProcessObservation with_fds(ProcessKey process, std::optional<uint64_t> open, std::optional<uint64_t> limit) {
  ProcessObservation o = holding(process, 0);
  o.fd_open = open;
  o.fd_limit = limit;
  return o;
}

ProcessObservation emfile_in(ProcessKey process, double seconds) {
  ProcessObservation o = holding(process, 0);
  o.seconds_to_emfile = seconds;
  return o;
}

std::string close_wait_id(ProcessKey p) {
  return "close_wait_count:" + std::to_string(p.pid) + ":" + std::to_string(p.start_ns);
}

}  // namespace

// ---- close_wait_count ----

TEST_CASE("a process crossing the CLOSE_WAIT count fires one alert with a stable id", "[alerts]") {
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(10);
  CHECK(engine.evaluate({holding(kServer, 9)}, rules).empty());

  const std::vector<AlertTransition> fired = engine.evaluate({holding(kServer, 12)}, rules);
  REQUIRE(fired.size() == 1);
  const AlertTransition& t = fired.front();
  CHECK(t.id == "close_wait_count:4242:123456789");
  CHECK(t.rule == "close_wait_count");
  CHECK(t.firing);
  CHECK(t.process == kServer);
  CHECK(t.name == "server");
  CHECK(t.value == 12.0);
  CHECK(t.threshold == 10.0);
  CHECK_THAT(t.summary, Catch::Contains("server") && Catch::Contains("4242") && Catch::Contains("12") &&
                            Catch::Contains("CLOSE_WAIT"));
}

TEST_CASE("exactly the threshold count fires", "[alerts]") {
  AlertEngine engine;
  CHECK(engine.evaluate({holding(kServer, 10)}, close_wait_rules(10)).size() == 1);
}

TEST_CASE("repeated evaluations above the threshold emit nothing new", "[alerts]") {
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(10);
  REQUIRE(engine.evaluate({holding(kServer, 10)}, rules).size() == 1);
  CHECK(engine.evaluate({holding(kServer, 11)}, rules).empty());
  CHECK(engine.evaluate({holding(kServer, 50)}, rules).empty());
  CHECK(engine.evaluate({holding(kServer, 10)}, rules).empty());
  CHECK(engine.firing_by_rule().at("close_wait_count") == 1);
}

TEST_CASE("an alert resolves only after resolve_after consecutive evaluations below", "[alerts]") {
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(10, 2);
  REQUIRE(engine.evaluate({holding(kServer, 15)}, rules).size() == 1);

  CHECK(engine.evaluate({holding(kServer, 3)}, rules).empty());  // 1 below: still firing
  CHECK(engine.firing_by_rule().at("close_wait_count") == 1);

  const std::vector<AlertTransition> resolved = engine.evaluate({holding(kServer, 3)}, rules);
  REQUIRE(resolved.size() == 1);
  const AlertTransition& t = resolved.front();
  CHECK_FALSE(t.firing);
  CHECK(t.id == close_wait_id(kServer));
  CHECK(t.rule == "close_wait_count");
  CHECK(t.process == kServer);
  CHECK(t.threshold == 10.0);
  CHECK(t.value == 3.0);  // the value now, not the last one seen while firing
  CHECK_THAT(t.summary, Catch::StartsWith("resolved: "));
  CHECK(engine.firing_by_rule().at("close_wait_count") == 0);

  // Staying below afterwards emits nothing more.
  CHECK(engine.evaluate({holding(kServer, 3)}, rules).empty());
}

TEST_CASE("a resolved alert carries the current value and says it in its summary", "[alerts]") {
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(10, 1);
  REQUIRE(engine.evaluate({holding(kServer, 11)}, rules).size() == 1);
  REQUIRE(engine.evaluate({holding(kServer, 40)}, rules).empty());
  const auto resolved = engine.evaluate({holding(kServer, 2)}, rules);
  REQUIRE(resolved.size() == 1);
  CHECK(resolved.front().value == 2.0);
  CHECK_THAT(resolved.front().summary, Catch::Contains("holds 2 CLOSE_WAIT"));
}

TEST_CASE("a resolved alert of a process no longer reported has a CLOSE_WAIT count of 0", "[alerts]") {
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(10, 1);
  REQUIRE(engine.evaluate({holding(kServer, 11)}, rules).size() == 1);
  const auto resolved = engine.evaluate({}, rules);
  REQUIRE(resolved.size() == 1);
  CHECK(resolved.front().value == 0.0);
  CHECK_THAT(resolved.front().summary, Catch::Contains("no longer holds"));
}

TEST_CASE("a dip below followed by a rise resets the resolve count", "[alerts]") {
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(10, 2);
  REQUIRE(engine.evaluate({holding(kServer, 15)}, rules).size() == 1);
  CHECK(engine.evaluate({holding(kServer, 3)}, rules).empty());   // below 1
  CHECK(engine.evaluate({holding(kServer, 15)}, rules).empty());  // above again: no re-fire
  CHECK(engine.evaluate({holding(kServer, 3)}, rules).empty());   // below 1 again, not 2
  CHECK(engine.firing_by_rule().at("close_wait_count") == 1);
  const auto resolved = engine.evaluate({holding(kServer, 3)}, rules);
  REQUIRE(resolved.size() == 1);
  CHECK_FALSE(resolved.front().firing);
}

TEST_CASE("resolve_after 1 resolves on the first evaluation below, and 0 behaves like 1", "[alerts]") {
  const uint32_t resolve_after = GENERATE(0u, 1u);
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(10, resolve_after);
  REQUIRE(engine.evaluate({holding(kServer, 15)}, rules).size() == 1);
  const auto resolved = engine.evaluate({holding(kServer, 0)}, rules);
  REQUIRE(resolved.size() == 1);
  CHECK_FALSE(resolved.front().firing);
}

TEST_CASE("a process absent from the observations counts as below", "[alerts]") {
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(10, 2);
  REQUIRE(engine.evaluate({holding(kServer, 15)}, rules).size() == 1);
  CHECK(engine.evaluate({}, rules).empty());
  const auto resolved = engine.evaluate({holding(kWorker, 0, "worker")}, rules);
  REQUIRE(resolved.size() == 1);
  CHECK(resolved.front().id == close_wait_id(kServer));
  CHECK_FALSE(resolved.front().firing);
}

TEST_CASE("a process that crosses again after resolving fires again", "[alerts]") {
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(10, 1);
  REQUIRE(engine.evaluate({holding(kServer, 15)}, rules).size() == 1);
  REQUIRE(engine.evaluate({holding(kServer, 0)}, rules).size() == 1);
  const auto again = engine.evaluate({holding(kServer, 20)}, rules);
  REQUIRE(again.size() == 1);
  CHECK(again.front().firing);
  CHECK(again.front().id == close_wait_id(kServer));
}

TEST_CASE("a CLOSE_WAIT count threshold of 0 disables the rule", "[alerts]") {
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(0);
  CHECK(engine.evaluate({holding(kServer, 0)}, rules).empty());
  CHECK(engine.evaluate({holding(kServer, 100'000)}, rules).empty());
  CHECK(engine.firing_by_rule().at("close_wait_count") == 0);
}

TEST_CASE("two processes with the same pid but different start times are different alerts", "[alerts]") {
  AlertEngine engine;
  const AlertRules rules = close_wait_rules(10, 1);
  const ProcessKey before_reuse{kServer.pid, 1'000};
  const ProcessKey after_reuse{kServer.pid, 9'000};
  const auto fired = engine.evaluate({holding(before_reuse, 20), holding(after_reuse, 30)}, rules);
  REQUIRE(fired.size() == 2);
  CHECK(fired[0].id != fired[1].id);
  CHECK(fired[0].id == close_wait_id(before_reuse));
  CHECK(fired[1].id == close_wait_id(after_reuse));
  CHECK(engine.firing_by_rule().at("close_wait_count") == 2);

  // The old process exits: only its alert resolves.
  const auto resolved = engine.evaluate({holding(after_reuse, 30)}, rules);
  REQUIRE(resolved.size() == 1);
  CHECK(resolved.front().id == close_wait_id(before_reuse));
  CHECK_FALSE(resolved.front().firing);
  CHECK(engine.firing_by_rule().at("close_wait_count") == 1);
}

// ---- fd_ratio ----

TEST_CASE("the fd ratio rule fires when open fds reach the ratio of the limit", "[alerts]") {
  AlertEngine engine;
  AlertRules rules = close_wait_rules(0);
  rules.fd_ratio = 0.8;
  CHECK(engine.evaluate({with_fds(kServer, 799, 1000)}, rules).empty());

  const auto fired = engine.evaluate({with_fds(kServer, 800, 1000)}, rules);
  REQUIRE(fired.size() == 1);
  const AlertTransition& t = fired.front();
  CHECK(t.rule == "fd_ratio");
  CHECK(t.id == "fd_ratio:4242:123456789");
  CHECK(t.firing);
  CHECK(t.value == Approx(0.8));
  CHECK(t.threshold == Approx(0.8));
  CHECK_THAT(t.summary, Catch::Contains("800") && Catch::Contains("1000") && Catch::Contains("80%"));
}

TEST_CASE("the fd ratio rule needs both a count and a non-zero limit", "[alerts]") {
  AlertEngine engine;
  AlertRules rules = close_wait_rules(0);
  rules.fd_ratio = 0.5;
  CHECK(engine.evaluate({with_fds(kServer, 1'000'000, std::nullopt)}, rules).empty());
  CHECK(engine.evaluate({with_fds(kServer, std::nullopt, 1000)}, rules).empty());
  CHECK(engine.evaluate({with_fds(kServer, 10, 0)}, rules).empty());
  CHECK(engine.firing_by_rule().at("fd_ratio") == 0);
}

// ---- emfile_soon ----

TEST_CASE("the EMFILE rule fires when exhaustion is projected within the window", "[alerts]") {
  AlertEngine engine;
  AlertRules rules = close_wait_rules(0);
  rules.emfile_within = 10min;
  CHECK(engine.evaluate({emfile_in(kServer, 601)}, rules).empty());

  const auto fired = engine.evaluate({emfile_in(kServer, 600)}, rules);
  REQUIRE(fired.size() == 1);
  const AlertTransition& t = fired.front();
  CHECK(t.rule == "emfile_soon");
  CHECK(t.id == "emfile_soon:4242:123456789");
  CHECK(t.value == 600.0);
  CHECK(t.threshold == 600.0);
  CHECK_THAT(t.summary, Catch::Contains("10.0 minutes"));
}

TEST_CASE("no EMFILE alert without a forecast", "[alerts]") {
  AlertEngine engine;
  AlertRules rules = close_wait_rules(0);
  rules.emfile_within = 24h;
  CHECK(engine.evaluate({holding(kServer, 0)}, rules).empty());
}

TEST_CASE("one process can fire every rule at once, each with its own id", "[alerts]") {
  AlertEngine engine;
  AlertRules rules;  // defaults: 20 CLOSE_WAIT, 0.8 ratio, 1h
  ProcessObservation o = holding(kServer, 25);
  o.fd_open = 900;
  o.fd_limit = 1000;
  o.seconds_to_emfile = 120;
  const auto fired = engine.evaluate({o}, rules);
  REQUIRE(fired.size() == 3);
  std::vector<std::string> rules_fired;
  for (const AlertTransition& t : fired) {
    CHECK(t.firing);
    CHECK(t.id == t.rule + ":4242:123456789");
    rules_fired.push_back(t.rule);
  }
  CHECK_THAT(rules_fired,
             Catch::UnorderedEquals(std::vector<std::string>{"close_wait_count", "fd_ratio", "emfile_soon"}));
}

// ---- firing_by_rule ----

TEST_CASE("firing_by_rule always lists all three rules", "[alerts]") {
  AlertEngine engine;
  const auto counts = engine.firing_by_rule();
  CHECK(counts.size() == 3);
  CHECK(counts.at("close_wait_count") == 0);
  CHECK(counts.at("fd_ratio") == 0);
  CHECK(counts.at("emfile_soon") == 0);
}

TEST_CASE("firing_by_rule counts firing alerts per rule", "[alerts]") {
  AlertEngine engine;
  AlertRules rules = close_wait_rules(10, 1);
  rules.fd_ratio = 0.5;
  ProcessObservation server = holding(kServer, 12);
  server.fd_open = 600;
  server.fd_limit = 1000;
  const ProcessObservation worker = holding(kWorker, 11, "worker");
  REQUIRE(engine.evaluate({server, worker}, rules).size() == 3);
  const auto counts = engine.firing_by_rule();
  CHECK(counts.size() == 3);
  CHECK(counts.at("close_wait_count") == 2);
  CHECK(counts.at("fd_ratio") == 1);
  CHECK(counts.at("emfile_soon") == 0);
}
