// One HTTP/1.1 POST with a deadline: what the alert pusher needs, and no more (no TLS, no
// redirects, no keep-alive). Blocking; runs on the pusher's own thread.
#pragma once

#include <chrono>
#include <string>

#include "app/options.h"

namespace sockleak {

struct PostResult {
  int status = 0;     // the response's status code; 0 when there was none
  std::string error;  // why not, when status is 0
};

PostResult http_post(const HttpUrl& url, const std::string& path, const std::string& json_body,
                     std::chrono::milliseconds timeout);

}  // namespace sockleak
