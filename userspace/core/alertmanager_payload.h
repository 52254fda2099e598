// Alerts as Alertmanager's v2 API takes them (POST /api/v2/alerts: a JSON array of
// {labels, annotations, startsAt, endsAt}). Labels are stable for one (rule, process), so
// Alertmanager sees re-sends as the same alert and a resolution as its end.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/alert_engine.h"
#include "core/report_rows.h"

namespace sockleak {

struct OutboundAlert {
  std::string id;  // AlertTransition::id
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string starts_at;  // RFC 3339
  std::string ends_at;    // firing: when Alertmanager may consider it over unless re-sent; resolved: when it ended
};

// alertname (SocketLeakCloseWait, SocketLeakFdRatioHigh, SocketLeakFdExhaustionSoon, the
// names of deploy/prometheus's rules), rule, host, pid, process, state (CLOSE_WAIT rule
// only), and the container identity the process has: container_id, container_runtime,
// container, pod, namespace, pod_uid, systemd_unit.
std::map<std::string, std::string> alert_labels(const AlertTransition& alert, const ProcessDetails& process,
                                                const std::string& host);
// summary, value, threshold.
std::map<std::string, std::string> alert_annotations(const AlertTransition& alert);
std::string alertmanager_payload(const std::vector<OutboundAlert>& alerts);

}  // namespace sockleak
