#include "core/alert_engine.h"

#include <cstdio>
#include <set>

namespace sockleak {
namespace {

struct Breach {
  std::string rule;
  double value;
  double threshold;
  std::string summary;
};

std::string fixed(double v, const char* format) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::vector<Breach> breaches(const ProcessObservation& o, const AlertRules& rules) {
  std::vector<Breach> out;
  const std::string who = o.name + " (pid " + std::to_string(o.process.pid) + ")";
  if (rules.close_wait_count > 0 && o.close_wait >= rules.close_wait_count) {
    out.push_back({"close_wait_count", static_cast<double>(o.close_wait), static_cast<double>(rules.close_wait_count),
                   who + " holds " + std::to_string(o.close_wait) + " CLOSE_WAIT sockets (threshold " +
                       std::to_string(rules.close_wait_count) + ")"});
  }
  if (o.fd_open && o.fd_limit && *o.fd_limit > 0) {
    const double ratio = static_cast<double>(*o.fd_open) / static_cast<double>(*o.fd_limit);
    if (ratio >= rules.fd_ratio) {
      out.push_back({"fd_ratio", ratio, rules.fd_ratio,
                     who + " uses " + std::to_string(*o.fd_open) + " of " + std::to_string(*o.fd_limit) +
                         " file descriptors (" + fixed(ratio * 100, "%.0f") + "%)"});
    }
  }
  const double within = to_seconds(rules.emfile_within);
  if (o.seconds_to_emfile && *o.seconds_to_emfile <= within) {
    out.push_back({"emfile_soon", *o.seconds_to_emfile, within,
                   who + " will run out of file descriptors in about " + fixed(*o.seconds_to_emfile / 60, "%.1f") +
                       " minutes at its current growth"});
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
  for (const ProcessObservation& o : observed) {
    for (const Breach& b : breaches(o, rules)) {
      const std::string id = alert_id(b.rule, o.process);
      breached.insert(id);
      AlertTransition t{id, b.rule, true, o.process, o.name, b.value, b.threshold, b.summary};
      auto [it, fresh] = active_.try_emplace(id, Active{t, 0});
      it->second.last = t;
      it->second.below = 0;
      if (fresh) transitions.push_back(t);
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
    resolved.summary = "resolved: " + resolved.summary;
    transitions.push_back(resolved);
    it = active_.erase(it);
  }
  return transitions;
}

std::map<std::string, uint32_t> AlertEngine::firing_by_rule() const {
  std::map<std::string, uint32_t> counts{{"close_wait_count", 0}, {"fd_ratio", 0}, {"emfile_soon", 0}};
  for (const auto& [id, active] : active_) ++counts[active.last.rule];
  return counts;
}

}  // namespace sockleak
