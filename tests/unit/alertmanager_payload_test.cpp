// Alerts as Alertmanager's v2 API takes them, and the URLs they are pushed to.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "app/options.h"
#include "core/alertmanager_payload.h"
#include "core/error.h"

using sockleak::AlertTransition;
using sockleak::ProcessDetails;

namespace {

AlertTransition close_wait_alert() {
  AlertTransition a;
  a.id = "close_wait_count:42:1000";
  a.rule = "close_wait_count";
  a.process = {42, 1000};
  a.name = "api";
  a.value = 31;
  a.threshold = 20;
  a.summary = "api (pid 42) holds 31 CLOSE_WAIT sockets (threshold 20)";
  return a;
}

}  // namespace

TEST_CASE("alert labels name the rule, host, process and its container; annotations carry the numbers",
          "[alertmanager]") {
  ProcessDetails process;
  process.identity.container_id = std::string(64, 'a');
  process.identity.container_runtime = "containerd";
  process.identity.pod_name = "api-7d4b9";
  process.identity.pod_namespace = "shop";
  const auto labels = sockleak::alert_labels(close_wait_alert(), process, "node-1");
  CHECK(labels.at("alertname") == "SocketLeakCloseWait");
  CHECK(labels.at("rule") == "close_wait_count");
  CHECK(labels.at("host") == "node-1");
  CHECK(labels.at("pid") == "42");
  CHECK(labels.at("process") == "api");
  CHECK(labels.at("state") == "CLOSE_WAIT");
  CHECK(labels.at("container_id") == std::string(64, 'a'));
  CHECK(labels.at("pod") == "api-7d4b9");
  CHECK(labels.at("namespace") == "shop");
  CHECK_FALSE(labels.contains("systemd_unit"));  // only what the process has
  const auto annotations = sockleak::alert_annotations(close_wait_alert());
  CHECK(annotations.at("value") == "31");
  CHECK(annotations.at("threshold") == "20");
}

TEST_CASE("the payload is a JSON array of labels, annotations, startsAt and endsAt", "[alertmanager]") {
  sockleak::OutboundAlert a{"id", {{"alertname", "SocketLeakCloseWait"}, {"process", "bad\xff"}}, {{"summary", "s"}},
                            "2026-01-01T00:00:00.000Z", "2026-01-01T00:05:00.000Z"};
  const auto array = nlohmann::json::parse(sockleak::alertmanager_payload({a}));
  REQUIRE(array.size() == 1);
  CHECK(array[0]["labels"]["alertname"] == "SocketLeakCloseWait");
  CHECK(array[0]["startsAt"] == "2026-01-01T00:00:00.000Z");
  CHECK(array[0]["endsAt"] == "2026-01-01T00:05:00.000Z");
  CHECK(array[0]["annotations"]["summary"] == "s");
}

TEST_CASE("Alertmanager URLs: http with host, port and path; https and junk refused", "[alertmanager]") {
  const auto url = sockleak::parse_http_url("--alertmanager-url", "http://am.example:9093/alertmanager/");
  CHECK(url.host == "am.example");
  CHECK(url.port == 9093);
  CHECK(url.path == "/alertmanager");
  const auto v6 = sockleak::parse_http_url("--alertmanager-url", "http://[::1]:9093");
  CHECK(v6.host == "::1");
  CHECK(v6.path.empty());
  CHECK(sockleak::parse_http_url("--alertmanager-url", "http://am").port == 80);
  CHECK_THROWS_AS(sockleak::parse_http_url("--alertmanager-url", "https://am:9093"), sockleak::Error);
  CHECK_THROWS_AS(sockleak::parse_http_url("--alertmanager-url", "am:9093"), sockleak::Error);
  CHECK_THROWS_AS(sockleak::parse_http_url("--alertmanager-url", "http://:9093"), sockleak::Error);
  CHECK_THROWS_AS(sockleak::parse_http_url("--alertmanager-url", "http://am:99999"), sockleak::Error);
}
