#include "core/alertmanager_payload.h"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace sockleak {
namespace {

std::string alert_name(const std::string& rule) {
  if (rule == "close_wait_count") return "SocketLeakCloseWait";
  if (rule == "fd_ratio") return "SocketLeakFdRatioHigh";
  if (rule == "emfile_soon") return "SocketLeakFdExhaustionSoon";
  return "SocketLeak";
}

std::string number(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

}  // namespace

std::map<std::string, std::string> alert_labels(const AlertTransition& alert, const ProcessDetails& process,
                                                const std::string& host) {
  std::map<std::string, std::string> labels = {
      {"alertname", alert_name(alert.rule)},
      {"rule", alert.rule},
      {"host", host},
      {"pid", std::to_string(alert.process.pid)},
      {"process", alert.name},
  };
  if (alert.rule == "close_wait_count") labels["state"] = "CLOSE_WAIT";
  const WorkloadIdentity& id = process.identity;
  auto put = [&](const char* key, const std::string& value) {
    if (!value.empty()) labels[key] = value;
  };
  put("container_id", id.container_id);
  put("container_runtime", id.container_runtime);
  put("container", id.container_name);
  put("pod", id.pod_name);
  put("namespace", id.pod_namespace);
  put("pod_uid", id.pod_uid);
  put("systemd_unit", id.systemd_unit);
  return labels;
}

std::map<std::string, std::string> alert_annotations(const AlertTransition& alert) {
  std::map<std::string, std::string> annotations = {{"summary", alert.summary},
                                                    {"threshold", number(alert.threshold)}};
  if (alert.value) annotations["value"] = number(*alert.value);
  return annotations;
}

std::string alertmanager_payload(const std::vector<OutboundAlert>& alerts) {
  nlohmann::json array = nlohmann::json::array();
  for (const OutboundAlert& a : alerts) {
    array.push_back({{"labels", a.labels}, {"annotations", a.annotations}, {"startsAt", a.starts_at},
                     {"endsAt", a.ends_at}});
  }
  return array.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sockleak
