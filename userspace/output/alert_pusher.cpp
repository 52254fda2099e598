#include "output/alert_pusher.h"

#include <algorithm>
#include <cstdio>

#include "output/http_post.h"
#include "output/json_records.h"

namespace sockleak {
namespace {

// The most resolved alerts kept for an Alertmanager that does not take them.
constexpr size_t kMaxResolved = 10'000;

std::string wall_clock_in(std::chrono::system_clock::duration ahead) {
  return rfc3339(std::chrono::system_clock::now() + ahead);
}

}  // namespace

AlertPusher::AlertPusher(std::vector<HttpUrl> targets) {
  for (HttpUrl& url : targets) {
    Target target;
    target.url = std::move(url);
    targets_.push_back(std::move(target));
  }
  thread_ = std::thread([this] { run(); });
}

AlertPusher::~AlertPusher() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void AlertPusher::update(std::vector<OutboundAlert> firing, std::vector<OutboundAlert> resolved) {
  {
    std::lock_guard lock(mutex_);
    bool news = false;
    std::map<std::string, OutboundAlert> next;
    for (OutboundAlert& a : firing) {
      auto known = firing_.find(a.id);
      if (known != firing_.end()) {
        a.starts_at = known->second.starts_at;  // when it began, not when last seen
        a.labels = known->second.labels;        // the same alert for Alertmanager, always
      } else {
        news = true;
        if (a.starts_at.empty()) a.starts_at = wall_clock_in({});
      }
      std::string id = a.id;
      next.insert_or_assign(std::move(id), std::move(a));
    }
    for (OutboundAlert& a : resolved) {
      // The labels it fired with: a process that has exited has no container identity to
      // read any more, and other labels would make Alertmanager see another alert.
      if (auto known = firing_.find(a.id); known != firing_.end()) {
        a.starts_at = known->second.starts_at;
        a.labels = known->second.labels;
      }
      if (a.starts_at.empty()) a.starts_at = wall_clock_in({});
      a.ends_at = wall_clock_in({});
      for (Target& t : targets_) t.resolved_taken.erase(a.id);
      next.erase(a.id);
      std::string id = a.id;
      resolved_.insert_or_assign(std::move(id), std::move(a));
      news = true;
    }
    while (resolved_.size() > kMaxResolved) resolved_.erase(resolved_.begin());
    firing_ = std::move(next);
    if (news) {
      for (Target& t : targets_) t.dirty = true;
    }
  }
  wake_.notify_all();
}

std::vector<OutboundAlert> AlertPusher::batch_for(const Target& target) const {
  std::vector<OutboundAlert> batch;
  const std::string expiry = wall_clock_in(kExpiry);
  for (const auto& [id, alert] : firing_) {
    batch.push_back(alert);
    batch.back().ends_at = expiry;
  }
  for (const auto& [id, alert] : resolved_) {
    if (!target.resolved_taken.contains(id)) batch.push_back(alert);
  }
  return batch;
}

std::string AlertPusher::post(const HttpUrl& url, const std::string& body) {
  const PostResult r = http_post(url, url.path + "/api/v2/alerts", body, std::chrono::seconds(5));
  if (r.status >= 200 && r.status < 300) return "";
  return r.status ? "HTTP status " + std::to_string(r.status) : r.error;
}

void AlertPusher::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    const Clock::time_point now = Clock::now();
    Clock::time_point next_wake = now + kResend;
    for (Target& t : targets_) {
      const bool due = t.dirty || (!firing_.empty() && now - t.last_sent >= kResend);
      if (!due) {
        next_wake = std::min(next_wake, t.last_sent + kResend);
        continue;
      }
      if (now < t.next_try) {
        next_wake = std::min(next_wake, t.next_try);
        continue;
      }
      const std::vector<OutboundAlert> batch = batch_for(t);
      if (batch.empty()) {
        t.dirty = false;
        continue;
      }
      std::set<std::string> resolved_sent;
      for (const OutboundAlert& a : batch) {
        if (resolved_.contains(a.id)) resolved_sent.insert(a.id);
      }
      const HttpUrl url = t.url;
      const std::string body = alertmanager_payload(batch);
      lock.unlock();
      const std::string error = post(url, body);
      lock.lock();
      // Said once when an Alertmanager starts failing and once when it takes alerts again.
      if (error.empty() != !t.failing) {
        if (error.empty()) {
          std::fprintf(stderr, "sockleak: --alertmanager-url %s: delivering again\n", url.text.c_str());
        } else {
          std::fprintf(stderr, "sockleak: --alertmanager-url %s: %s (retrying with backoff)\n", url.text.c_str(),
                       error.c_str());
        }
        t.failing = !error.empty();
      }
      if (error.empty()) {
        ++sent_;
        t.dirty = false;
        t.last_sent = Clock::now();
        t.backoff = std::chrono::seconds(1);
        t.resolved_taken.insert(resolved_sent.begin(), resolved_sent.end());
      } else {
        ++failed_;
        t.next_try = Clock::now() + t.backoff;
        t.backoff = std::min<Clock::duration>(t.backoff * 2, std::chrono::seconds(60));
      }
      next_wake = Clock::now();  // look again: more may be due
    }
    // Resolutions every Alertmanager took are done with.
    for (auto it = resolved_.begin(); it != resolved_.end();) {
      const std::string& id = it->first;
      if (!std::all_of(targets_.begin(), targets_.end(), [&](const Target& t) { return t.resolved_taken.contains(id); })) {
        ++it;
        continue;
      }
      for (Target& t : targets_) t.resolved_taken.erase(id);
      it = resolved_.erase(it);
    }
    if (stop_) break;
    wake_.wait_until(lock, next_wake);
  }
}

}  // namespace sockleak
