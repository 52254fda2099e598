// AlertPusher: delivers alerts to Alertmanagers from a thread of its own, so a slow or dead
// Alertmanager never holds up a report. Firing alerts are re-sent every kResend with an
// end kExpiry ahead (Alertmanager ends them by itself if sockleak stops); resolved ones are
// sent with their end until every Alertmanager has taken them. Failures back off from 1 s
// to 60 s per Alertmanager and are counted.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "app/options.h"
#include "core/alertmanager_payload.h"

namespace sockleak {

class AlertPusher {
 public:
  static constexpr std::chrono::seconds kResend{60};
  static constexpr std::chrono::minutes kExpiry{5};

  explicit AlertPusher(std::vector<HttpUrl> targets);
  ~AlertPusher();
  AlertPusher(const AlertPusher&) = delete;
  AlertPusher& operator=(const AlertPusher&) = delete;

  // After every report: every alert firing now, and those that resolved in it. A new
  // firing alert or a resolution is pushed at once.
  void update(std::vector<OutboundAlert> firing, std::vector<OutboundAlert> resolved);
  uint64_t sent() const { return sent_; }      // batches Alertmanager accepted
  uint64_t failed() const { return failed_; }  // attempts that failed (refused, timed out, not 2xx)

 private:
  using Clock = std::chrono::steady_clock;
  struct Target {
    HttpUrl url;
    bool dirty = true;               // something new to tell it
    Clock::time_point last_sent{};   // last accepted batch
    Clock::time_point next_try{};    // after a failure, not before
    Clock::duration backoff = std::chrono::seconds(1);
    std::set<std::string> resolved_taken;  // resolved alert ids it accepted
    bool failing = false;            // the last attempt failed
  };
  void run();
  // Empty when Alertmanager accepted the batch, else why not.
  std::string post(const HttpUrl& url, const std::string& body);
  std::vector<OutboundAlert> batch_for(const Target& target) const;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::vector<Target> targets_;
  std::map<std::string, OutboundAlert> firing_;    // by alert id
  std::map<std::string, OutboundAlert> resolved_;  // by alert id, until every target took it
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> failed_{0};
  std::thread thread_;
};

}  // namespace sockleak
