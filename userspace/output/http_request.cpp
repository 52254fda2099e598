#include "output/http_request.h"

namespace sockleak {
namespace {

std::string reply(int status, std::string_view reason, std::string_view content_type, std::string_view body,
                  bool with_body) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
  out += "Content-Type: " + std::string(content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  if (with_body) out += body;
  return out;
}

}  // namespace

HttpRequest parse_request(std::string_view buffer) {
  HttpRequest request;
  size_t end = buffer.find("\r\n\r\n");
  if (end == std::string_view::npos) end = buffer.find("\n\n");
  if (end == std::string_view::npos) {
    if (buffer.size() >= kMaxRequestHeader) request.status = HttpRequest::Status::kTooLarge;
    return request;
  }
  if (end >= kMaxRequestHeader) {
    request.status = HttpRequest::Status::kTooLarge;
    return request;
  }
  std::string_view line = buffer.substr(0, buffer.find_first_of("\r\n"));
  const size_t method_end = line.find(' ');
  const size_t target_end = method_end == std::string_view::npos ? method_end : line.find(' ', method_end + 1);
  if (method_end == 0 || target_end == std::string_view::npos || line.substr(target_end + 1).rfind("HTTP/1.", 0) != 0) {
    request.status = HttpRequest::Status::kMalformed;
    return request;
  }
  request.method = std::string(line.substr(0, method_end));
  std::string_view target = line.substr(method_end + 1, target_end - method_end - 1);
  request.path = std::string(target.substr(0, target.find('?')));
  request.status = HttpRequest::Status::kComplete;
  return request;
}

std::string http_reply(const HttpRequest& request, std::string_view exposition) {
  constexpr std::string_view kText = "text/plain; charset=utf-8";
  switch (request.status) {
    case HttpRequest::Status::kTooLarge:
      return reply(431, "Request Header Fields Too Large", kText, "request header too large\n", true);
    case HttpRequest::Status::kMalformed:
    case HttpRequest::Status::kIncomplete:
      return reply(400, "Bad Request", kText, "bad request\n", true);
    case HttpRequest::Status::kComplete:
      break;
  }
  const bool head = request.method == "HEAD";
  if (request.method != "GET" && !head) return reply(405, "Method Not Allowed", kText, "GET only\n", true);
  if (request.path == "/metrics") {
    return reply(200, "OK", "text/plain; version=0.0.4; charset=utf-8", exposition, !head);
  }
  if (request.path == "/") return reply(200, "OK", kText, "sockleak: metrics at /metrics\n", !head);
  return reply(404, "Not Found", kText, "not found: try /metrics\n", !head);
}

}  // namespace sockleak
