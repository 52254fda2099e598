// The metrics endpoint's HTTP: when a header is complete, what it asks for, what it gets.
#include <string>

#include <catch2/catch.hpp>

#include "output/http_request.h"

using sockleak::http_reply;
using sockleak::HttpRequest;
using sockleak::parse_request;

TEST_CASE("a request is complete only with its whole header, and is read from its request line", "[http]") {
  CHECK(parse_request("GET /metrics HTTP/1.1\r\nHost: x\r\n").status == HttpRequest::Status::kIncomplete);
  const HttpRequest r = parse_request("GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(r.status == HttpRequest::Status::kComplete);
  CHECK(r.method == "GET");
  CHECK(r.path == "/metrics");
  CHECK(parse_request("GET / HTTP/1.0\n\n").status == HttpRequest::Status::kComplete);
}

TEST_CASE("a header without end past 8 KiB is too large; a request line that is not HTTP is malformed", "[http]") {
  CHECK(parse_request(std::string(9000, 'a')).status == HttpRequest::Status::kTooLarge);
  CHECK(parse_request("hello\r\n\r\n").status == HttpRequest::Status::kMalformed);
  CHECK(parse_request(" / HTTP/1.1\r\n\r\n").status == HttpRequest::Status::kMalformed);
  CHECK(parse_request("GET / SPDY\r\n\r\n").status == HttpRequest::Status::kMalformed);
}

TEST_CASE("replies: exposition on /metrics, HEAD without body, 404, 405, 431; every one closes", "[http]") {
  const std::string ok = http_reply(parse_request("GET /metrics HTTP/1.1\r\n\r\n"), "up 1\n");
  CHECK(ok.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(ok.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != std::string::npos);
  CHECK(ok.find("Content-Length: 5\r\n") != std::string::npos);
  CHECK(ok.find("Connection: close\r\n") != std::string::npos);
  CHECK(ok.substr(ok.size() - 5) == "up 1\n");
  const std::string head = http_reply(parse_request("HEAD /metrics HTTP/1.1\r\n\r\n"), "up 1\n");
  CHECK(head.find("Content-Length: 5\r\n") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
  CHECK(http_reply(parse_request("GET /other HTTP/1.1\r\n\r\n"), "").rfind("HTTP/1.1 404", 0) == 0);
  CHECK(http_reply(parse_request("POST /metrics HTTP/1.1\r\n\r\n"), "").rfind("HTTP/1.1 405", 0) == 0);
  CHECK(http_reply(parse_request(std::string(9000, 'a')), "").rfind("HTTP/1.1 431", 0) == 0);
  CHECK(http_reply(parse_request("junk\r\n\r\n"), "").rfind("HTTP/1.1 400", 0) == 0);
}
