// MetricsServer: serves the latest Prometheus exposition on GET /metrics from one thread
// polling every connection, so no client can hold up another: a header must arrive within
// kHeaderTimeout, a reply must be taken within kWriteTimeout, every reply closes its
// connection, and past kMaxConnections the oldest connection still sending its header
// makes room. Binds at construction so a taken port fails before monitoring starts.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "app/options.h"
#include "kernel/unique_fd.h"

namespace sockleak {

class MetricsServer {
 public:
  static constexpr size_t kMaxConnections = 256;
  static constexpr std::chrono::seconds kHeaderTimeout{5};
  static constexpr std::chrono::seconds kWriteTimeout{10};

  explicit MetricsServer(const ListenAddress& address);  // throws Error(kExitRuntime) when it cannot listen
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void publish(std::string exposition);

 private:
  void serve();
  std::shared_ptr<const std::string> body() const;

  UniqueFd listener_;
  UniqueFd wake_;  // eventfd: the destructor's stop request
  std::thread thread_;
  mutable std::mutex mutex_;
  std::shared_ptr<const std::string> body_ = std::make_shared<const std::string>();
};

}  // namespace sockleak
