// The little HTTP/1.x the metrics endpoint speaks, as pure functions: is a request header
// complete, what does it ask for, and the bytes of the reply. Every reply closes the
// connection (Prometheus opens one per scrape), so no client can hold the server idle.
#pragma once

#include <string>
#include <string_view>

namespace sockleak {

inline constexpr size_t kMaxRequestHeader = 8192;

struct HttpRequest {
  enum class Status { kIncomplete, kComplete, kTooLarge, kMalformed };
  Status status = Status::kIncomplete;
  std::string method;
  std::string path;  // without the query string
};

// Reads the request line of the header at the start of buffer, once the header is complete.
HttpRequest parse_request(std::string_view buffer);

// The whole reply to a request: /metrics gets exposition (text format 0.0.4), / a pointer
// to it; anything else 404 or 405; a malformed or oversized header 400 or 431.
std::string http_reply(const HttpRequest& request, std::string_view exposition);

}  // namespace sockleak
