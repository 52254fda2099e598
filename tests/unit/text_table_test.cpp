// --format text: the terminal table and the printable process names in it.
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "output/text_table.h"

using namespace std::chrono_literals;
using sockleak::HostTotals;
using sockleak::ReportRow;
using sockleak::TcpState;
using sockleak::printable;
using sockleak::text_report;

namespace {

constexpr const char* kTime = "2024-02-29T13:45:06.789Z";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

sockleak::Endpoint ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  sockleak::Endpoint e;
  e.family = SL_AF_INET;
  e.address = {a, b, c, d};
  e.port = port;
  return e;
}

ReportRow nginx_close_wait() {
  ReportRow row;
  row.group.process = {4242, 77'000};
  row.group.state = TcpState::kCloseWait;
  row.group.count = 3;
  row.group.oldest = 42500ms;
  row.group.oldest_is_lower_bound = true;
  row.group.top_peers = {{ipv4(10, 0, 0, 7, 8080), 2}, {ipv4(10, 0, 0, 8, 8080), 1}};
  row.process.name = "nginx";
  row.process.fd_open = 17;
  row.process.fd_limit = 1024;
  return row;
}

}  // namespace

TEST_CASE("printable replaces control and non-ASCII bytes with question marks", "[text]") {
  CHECK(printable("nginx") == "nginx");
  CHECK(printable("a\nb\x01" "c\x7f") == "a?b?c?");
  CHECK(printable("\xff\xfe") == "??");
  CHECK(printable("tab\there") == "tab?here");
  CHECK(printable("") == "");
  CHECK(printable("with space~") == "with space~");
}

TEST_CASE("a text report with nothing lingering is one header line with the totals", "[text]") {
  const std::string out = text_report({}, HostTotals{}, kTime);
  CHECK(out == std::string(kTime) + "  lingering: 0 CLOSE_WAIT, 0 idle ESTABLISHED (0 unowned)\n");
}

TEST_CASE("the text report header line contains the host totals", "[text]") {
  const std::string out = text_report({nginx_close_wait()}, HostTotals{3, 1, 2}, kTime);
  const auto lines = lines_of(out);
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[0], Catch::StartsWith(kTime));
  CHECK_THAT(lines[0], Catch::Contains("3 CLOSE_WAIT") && Catch::Contains("1 idle ESTABLISHED") &&
                           Catch::Contains("(2 unowned)"));
  CHECK_THAT(lines[1], Catch::Contains("PID") && Catch::Contains("PROCESS") && Catch::Contains("TOP PEER"));
}

TEST_CASE("a text report row shows pid name state count oldest age fds and top peer", "[text]") {
  const auto lines = lines_of(text_report({nginx_close_wait()}, HostTotals{3, 0, 0}, kTime));
  REQUIRE(lines.size() == 3);
  const std::string& row = lines[2];
  CHECK_THAT(row, Catch::StartsWith("  4242 "));
  CHECK_THAT(row, Catch::Contains(" nginx "));
  CHECK_THAT(row, Catch::Contains(" CLOSE_WAIT "));
  CHECK_THAT(row, Catch::Contains(" 3 "));
  CHECK_THAT(row, Catch::Contains(">42.5s"));  // lower bound marked with >
  CHECK_THAT(row, Catch::Contains("17/1024"));
  CHECK_THAT(row, Catch::EndsWith("10.0.0.7:8080 (2) +1 more"));
}

TEST_CASE("a text report row shows the leak rate, the time to EMFILE and the cause", "[text]") {
  ReportRow r = nginx_close_wait();
  r.forecast.leak_rate_per_minute = 12.0;
  r.forecast.seconds_to_emfile = 5400;
  const auto lines = lines_of(text_report({r}, HostTotals{3, 0, 0}, kTime));
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[1], Catch::Contains("RATE/MIN") && Catch::Contains("EMFILE") && Catch::Contains("CAUSE"));
  CHECK_THAT(lines[2], Catch::Contains(" +12.0 ") && Catch::Contains(" 90m ") && Catch::Contains(" peer_closed "));
  r.forecast = {};
  CHECK_THAT(lines_of(text_report({r}, HostTotals{3, 0, 0}, kTime))[2], Catch::Contains(" - "));
}

TEST_CASE("a text report row shows unknowns as question marks and no peers as a dash", "[text]") {
  ReportRow r = nginx_close_wait();
  r.process.fd_open.reset();
  r.process.fd_limit.reset();
  r.group.top_peers.clear();
  r.group.oldest_is_lower_bound = false;
  const auto lines = lines_of(text_report({r}, HostTotals{3, 0, 0}, kTime));
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[2], Catch::Contains("?/?"));
  CHECK_THAT(lines[2], Catch::Contains(" 42.5s"));
  CHECK_THAT(lines[2], !Catch::Contains(">"));
  CHECK_THAT(lines[2], Catch::EndsWith("  -"));
}

TEST_CASE("a text report brackets an IPv6 top peer", "[text]") {
  ReportRow r = nginx_close_wait();
  sockleak::Endpoint v6;
  v6.family = SL_AF_INET6;
  v6.address[15] = 1;
  v6.port = 443;
  r.group.top_peers = {{v6, 3}};
  const auto lines = lines_of(text_report({r}, HostTotals{3, 0, 0}, kTime));
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[2], Catch::EndsWith("[::1]:443 (3)"));
}

TEST_CASE("a process name with control bytes cannot break the table's lines", "[text]") {
  ReportRow r = nginx_close_wait();
  r.process.name = "evil\nname\r\x1b[2J";
  const std::string out = text_report({r}, HostTotals{3, 0, 0}, kTime);
  const auto lines = lines_of(out);
  REQUIRE(lines.size() == 3);
  CHECK_THAT(lines[2], Catch::Contains("evil?name??[2J"));
  CHECK(out.find('\r') == std::string::npos);
  CHECK(out.find('\x1b') == std::string::npos);
}

TEST_CASE("a text report has one line per row in the order given", "[text]") {
  ReportRow first = nginx_close_wait();
  ReportRow second = nginx_close_wait();
  second.group.process = {31337, 1};
  second.group.state = TcpState::kEstablished;
  second.process.name = "redis";
  const auto lines = lines_of(text_report({first, second}, HostTotals{3, 3, 0}, kTime));
  REQUIRE(lines.size() == 4);
  CHECK_THAT(lines[2], Catch::Contains("nginx"));
  CHECK_THAT(lines[3], Catch::StartsWith("  31337 ") && Catch::Contains("redis") &&
                           Catch::Contains("ESTABLISHED"));
}
