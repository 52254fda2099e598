// MetricsServer: serves the latest Prometheus exposition on GET /metrics (cpp-httplib,
// one worker thread). Binds at construction so a taken port fails before monitoring starts.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "app/options.h"

namespace httplib {
class Server;
}

namespace sockleak {

class MetricsServer {
 public:
  explicit MetricsServer(const ListenAddress& address);  // throws Error(kExitUsage) when it cannot listen
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  void publish(std::string exposition);

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::mutex mutex_;
  std::string body_;
};

}  // namespace sockleak
