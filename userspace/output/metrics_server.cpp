#include "output/metrics_server.h"

#include <httplib.h>

#include "core/error.h"

namespace sockleak {

MetricsServer::MetricsServer(const ListenAddress& address) : server_(std::make_unique<httplib::Server>()) {
  server_->new_task_queue = [] { return new httplib::ThreadPool(1); };
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mutex_);
    res.set_content(body_, "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("sockleak: metrics at /metrics\n", "text/plain");
  });
  if (!server_->bind_to_port(address.host.c_str(), address.port)) {
    throw Error("--metrics-addr " + address.host + ":" + std::to_string(address.port) +
                    ": cannot listen (address in use, or not an address of this host)",
                kExitRuntime);  // often passing (a previous instance still exiting): a service manager may retry
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
}

MetricsServer::~MetricsServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void MetricsServer::publish(std::string exposition) {
  std::lock_guard lock(mutex_);
  body_ = std::move(exposition);
}

}  // namespace sockleak
