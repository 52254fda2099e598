#include "core/alert_engine.h"

#include <cstdio>
#include <set>

namespace sockleak {
namespace {

struct Reading {
  std::string rule;
  std::optional<double> value;  // nullopt: not measurable now (no fd limit, fds not growing)
  double threshold;
  bool breached;
  std::string summary;
};

std::string fixed(double v, const char* format) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Every rule as it reads for one process now, breached or not: firing alerts take the
// breached ones, resolved alerts the current value.
std::vector<Reading> readings(const ProcessObservation& o, const AlertRules& rules) {
  std::vector<Reading> out;
  const std::string who = o.name + " (pid " + std::to_string(o.process.pid) + ")";
  out.push_back({"close_wait_count", static_cast<double>(o.close_wait), static_cast<double>(rules.close_wait_count),
                 rules.close_wait_count > 0 && o.close_wait >= rules.close_wait_count,
                 who + " holds " + std::to_string(o.close_wait) + " CLOSE_WAIT sockets (threshold " +
                     std::to_string(rules.close_wait_count) + ")"});
  if (o.fd_open && o.fd_limit && *o.fd_limit > 0) {
    const double ratio = static_cast<double>(*o.fd_open) / static_cast<double>(*o.fd_limit);
    out.push_back({"fd_ratio", ratio, rules.fd_ratio, ratio >= rules.fd_ratio,
                   who + " uses " + std::to_string(*o.fd_open) + " of " + std::to_string(*o.fd_limit) +
                       " file descriptors (" + fixed(ratio * 100, "%.0f") + "%)"});
  } else {
    out.push_back({"fd_ratio", std::nullopt, rules.fd_ratio, false, who + ": file descriptor use unknown"});
  }
  const double within = to_seconds(rules.emfile_within);
  if (o.seconds_to_emfile) {
    out.push_back({"emfile_soon", *o.seconds_to_emfile, within, *o.seconds_to_emfile <= within,
                   who + " will run out of file descriptors in about " + fixed(*o.seconds_to_emfile / 60, "%.1f") +
                       " minutes at its current growth"});
  } else {
    out.push_back({"emfile_soon", std::nullopt, within, false, who + "'s file descriptors are not growing"});
  }
  return out;
}

std::string alert_id(const std::string& rule, const ProcessKey& p) {
  return rule + ":" + std::to_string(p.pid) + ":" + std::to_string(p.start_ns);
}

}  // namespace

std::vector<AlertTransition> AlertEngine::evaluate(const std::vector<ProcessObservation>& observed,
                                                   const AlertRules& rules) {
  std::vector<AlertTransition> transitions;
  std::set<std::string> breached;
  std::map<std::string, Reading> now;  // by alert id, for resolved alerts' current values
  for (const ProcessObservation& o : observed) {
    for (Reading& r : readings(o, rules)) {
      const std::string id = alert_id(r.rule, o.process);
      if (r.breached) {
        breached.insert(id);
        AlertTransition t{id, r.rule, true, o.process, o.name, r.value, r.threshold, r.summary};
        auto [it, fresh] = active_.try_emplace(id, Active{t, 0});
        it->second.last = t;
        it->second.below = 0;
        if (fresh) transitions.push_back(t);
      }
      now.emplace(id, std::move(r));
    }
  }
  const uint32_t needed = rules.resolve_after == 0 ? 1 : rules.resolve_after;
  for (auto it = active_.begin(); it != active_.end();) {
    if (breached.contains(it->first) || ++it->second.below < needed) {
      ++it;
      continue;
    }
    AlertTransition resolved = it->second.last;
    resolved.firing = false;
    // The value now. A process no longer observed holds no lingering socket.
    if (auto reading = now.find(it->first); reading != now.end()) {
      resolved.value = reading->second.value;
      resolved.summary = "resolved: " + reading->second.summary;
    } else {
      resolved.value = resolved.rule == "close_wait_count" ? std::optional<double>(0.0) : std::nullopt;
      resolved.summary = "resolved: " + resolved.name + " (pid " + std::to_string(resolved.process.pid) +
                         ") no longer holds lingering sockets";
    }
    transitions.push_back(resolved);
    it = active_.erase(it);
  }
  return transitions;
}

std::vector<AlertTransition> AlertEngine::firing() const {
  std::vector<AlertTransition> all;
  for (const auto& [id, active] : active_) all.push_back(active.last);
  return all;
}

std::map<std::string, uint32_t> AlertEngine::firing_by_rule() const {
  std::map<std::string, uint32_t> counts{{"close_wait_count", 0}, {"fd_ratio", 0}, {"emfile_soon", 0}};
  for (const auto& [id, active] : active_) ++counts[active.last.rule];
  return counts;
}

}  // namespace sockleak
