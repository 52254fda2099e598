#include "output/json_records.h"

#include <ctime>

#include "core/hints.h"

namespace sockleak {
namespace {

nlohmann::ordered_json envelope(std::string_view type, const RecordContext& ctx) {
  return {{"schema", kSchema},
          {"type", type},
          {"@timestamp", ctx.timestamp},
          {"host", {{"name", ctx.host}}}};
}

nlohmann::ordered_json optional_number(const std::optional<double>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json process_object(uint32_t pid, const ProcessDetails& details) {
  nlohmann::ordered_json process = {{"pid", pid}, {"name", details.name}};
  if (details.start_time) process["start_time"] = *details.start_time;
  nlohmann::ordered_json fd = nlohmann::ordered_json::object();
  if (details.fd_open) fd["open"] = *details.fd_open;
  if (details.fd_limit) fd["limit"] = *details.fd_limit;
  process["fd"] = fd;
  return process;
}

// ECS names (container.*, orchestrator.*) and Elastic's journald ones (systemd.unit); null
// when the process has none.
void add_identity(nlohmann::ordered_json& record, const WorkloadIdentity& id) {
  using json = nlohmann::ordered_json;
  json container = nullptr;
  if (!id.container_id.empty()) {
    container = {{"id", id.container_id}};
    if (!id.container_runtime.empty()) container["runtime"] = id.container_runtime;
    if (!id.container_name.empty()) container["name"] = id.container_name;
  }
  json orchestrator = nullptr;
  if (!id.pod_uid.empty()) {
    orchestrator = {{"type", "kubernetes"}};
    if (!id.pod_namespace.empty()) orchestrator["namespace"] = id.pod_namespace;
    orchestrator["resource"] = {{"type", "pod"}, {"id", id.pod_uid}};
    if (!id.pod_name.empty()) orchestrator["resource"]["name"] = id.pod_name;
  }
  record["container"] = container;
  record["orchestrator"] = orchestrator;
  record["systemd"] = id.systemd_unit.empty() ? json(nullptr) : json{{"unit", id.systemd_unit}};
}

}  // namespace

nlohmann::ordered_json linger_record(const ReportRow& row, const RecordContext& ctx) {
  const LingerGroup& g = row.group;
  const bool close_wait = g.state == TcpState::kCloseWait;
  nlohmann::ordered_json record = envelope("linger", ctx);
  record["process"] = process_object(g.process.pid, row.process);
  record["process"]["fd"]["exhaustion_eta_seconds"] = optional_number(row.forecast.seconds_to_emfile);
  add_identity(record, row.process.identity);

  record["socket"] = {
      {"state", state_name(g.state)},
      {"count", g.count},
      {"oldest_age_seconds", to_seconds(g.oldest)},
      {"age_is_lower_bound", g.oldest_is_lower_bound},
      {"threshold_seconds",
       to_seconds(close_wait ? ctx.thresholds.close_wait : ctx.thresholds.established_idle)},
      {"leak_rate_per_minute", optional_number(row.forecast.leak_rate_per_minute)},
      {"unread", {{"count", g.unread_count}, {"bytes", g.unread_bytes}}},
      {"cause", cause_name(linger_cause(g))},
      {"listen", g.listen ? nlohmann::ordered_json{{"address", g.listen->address_string()}, {"port", g.listen->port}}
                          : nlohmann::ordered_json(nullptr)},
  };
  nlohmann::ordered_json peers = nlohmann::ordered_json::array();
  for (const PeerCount& p : g.top_peers) {
    peers.push_back(
        {{"address", p.peer.address_string()}, {"port", p.peer.port}, {"count", p.count}, {"unread", p.unread}});
  }
  record["network"] = {{"peers", peers}, {"namespaces", g.netns}};
  nlohmann::ordered_json sites = nlohmann::ordered_json::array();
  for (const CallSite& site : row.call_sites) sites.push_back({{"count", site.count}, {"frames", site.frames}});
  record["call_sites"] = sites;
  record["hint"] = row.forecast.hint;
  return record;
}

nlohmann::ordered_json alert_record(const AlertTransition& alert, const ProcessDetails& process,
                                    const RecordContext& ctx) {
  nlohmann::ordered_json record = envelope("alert", ctx);
  record["alert"] = {{"id", alert.id},
                     {"rule", alert.rule},
                     {"status", alert.firing ? "firing" : "resolved"},
                     {"value", optional_number(alert.value)},
                     {"threshold", alert.threshold},
                     {"summary", alert.summary}};
  record["process"] = process_object(alert.process.pid, process);
  add_identity(record, process.identity);
  return record;
}

nlohmann::ordered_json stats_record(const StatsSnapshot& s, const RecordContext& ctx) {
  nlohmann::ordered_json record = envelope("stats", ctx);
  record["events"] = {{"received", s.events_received},
                      {"lost", s.events_lost},
                      {"malformed", s.events_malformed}};
  record["sockets"] = {{"tracked", s.sockets_tracked},
                       {"untracked_map_full", s.sockets_untracked},
                       {"stale_removed", s.sockets_stale},
                       {"lingering",
                        {{"close_wait", s.lingering.close_wait},
                         {"established", s.lingering.established},
                         {"unowned", s.lingering.unowned}}}};
  record["reconcile"] = {{"runs", s.reconciles},
                         {"corrections", s.reconcile_corrections},
                         {"rows_lost", s.rows_lost},
                         {"accept_queues_truncated", s.queues_truncated}};
  record["call_sites"] = {{"lost", s.call_sites_lost}};
  record["alert_push"] = {{"sent", s.alert_pushes_sent}, {"failed", s.alert_pushes_failed}};
  record["close_tracking"] = s.close_tracking;
  record["holder_rereads"] = s.holder_rereads;
  record["uptime_seconds"] = s.uptime_seconds;
  record["final"] = s.final;
  return record;
}

std::string ndjson_line(const nlohmann::ordered_json& record) {
  return record.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace sockleak
