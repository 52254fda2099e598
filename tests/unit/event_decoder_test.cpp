// Raw ring-buffer and iterator bytes to typed records: size and kind checks.
#include <cstddef>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/event_decoder.h"

using sockleak::decode_event;
using sockleak::decode_exit_close;
using sockleak::decode_rows;

namespace {

sl_event fd_close_event() {
  sl_event ev{};
  ev.ts_ns = 123'456'789'000;
  ev.cookie = 0xC00C1E;
  ev.proc_start = 42'000'000;
  ev.kind = SL_EV_FD_CLOSE;
  ev.tgid = 4242;
  ev.old_state = 0;
  ev.new_state = 0;
  ev.fd_first = 17;
  ev.fd_last = 17;
  return ev;
}

template <typename T>
std::vector<std::byte> bytes_of(const T& value) {
  std::vector<std::byte> out(sizeof value);
  std::memcpy(out.data(), &value, sizeof value);
  return out;
}

sl_sock_row row_with_cookie(uint64_t cookie) {
  sl_sock_row row{};
  row.cookie = cookie;
  row.tgid = static_cast<uint32_t>(cookie * 10);
  row.state = 8;
  row.local_port = 8080;
  row.peer_port = static_cast<uint16_t>(40000 + cookie);
  std::memcpy(row.comm, "server", 6);
  return row;
}

}  // namespace

TEST_CASE("an event of the wrong size is not decoded", "[decoder]") {
  std::vector<std::byte> bytes = bytes_of(fd_close_event());
  CHECK_FALSE(decode_event(std::span(bytes).first(sizeof(sl_event) - 1)).has_value());
  bytes.push_back(std::byte{0});
  CHECK_FALSE(decode_event(bytes).has_value());
  CHECK_FALSE(decode_event({}).has_value());
}

TEST_CASE("an event of an unknown kind is not decoded", "[decoder]") {
  // 5 is the larger exit-close record's kind: never an sl_event.
  const uint32_t kind = GENERATE(0u, 5u, 6u, 0xFFFFFFFFu);
  sl_event ev = fd_close_event();
  ev.kind = kind;
  INFO("kind " << kind);
  CHECK_FALSE(decode_event(bytes_of(ev)).has_value());
}

TEST_CASE("exec's exit-close records decode at their own size only, with the socket they name", "[decoder]") {
  sl_exit_close record{};
  record.head.kind = SL_EV_EXIT_CLOSE;
  record.head.cookie = 42;
  record.head.tgid = 7;
  record.row.cookie = 42;
  record.row.peer_port = 8080;
  std::vector<std::byte> bytes(sizeof record);
  std::memcpy(bytes.data(), &record, sizeof record);
  const auto decoded = decode_exit_close(bytes);
  REQUIRE(decoded);
  CHECK(decoded->head.tgid == 7);
  CHECK(decoded->row.peer_port == 8080);
  CHECK_FALSE(decode_event(bytes));  // not an sl_event
  CHECK_FALSE(decode_exit_close(std::span(bytes).first(sizeof(sl_event))));
  record.row.cookie = 43;  // a row of another socket
  std::memcpy(bytes.data(), &record, sizeof record);
  CHECK_FALSE(decode_exit_close(bytes));
  sl_event call_site = fd_close_event();
  call_site.kind = SL_EV_CALL_SITE;
  call_site.stack_id = 12;
  const auto site = decode_event(bytes_of(call_site));
  REQUIRE(site);
  CHECK(site->stack_id == 12);
}

TEST_CASE("a valid event decodes with every field preserved", "[decoder]") {
  const auto decoded = decode_event(bytes_of(fd_close_event()));
  REQUIRE(decoded.has_value());
  CHECK(decoded->ts_ns == 123'456'789'000u);
  CHECK(decoded->cookie == 0xC00C1Eu);
  CHECK(decoded->proc_start == 42'000'000u);
  CHECK(decoded->kind == SL_EV_FD_CLOSE);
  CHECK(decoded->tgid == 4242u);
  CHECK(decoded->fd_first == 17u);
  CHECK(decoded->fd_last == 17u);
}

TEST_CASE("every known event kind decodes", "[decoder]") {
  const uint32_t kind = GENERATE(as<uint32_t>{}, SL_EV_STATE, SL_EV_FD_CLOSE, SL_EV_CLOSE_RANGE);
  sl_event ev = fd_close_event();
  ev.kind = kind;
  ev.old_state = 1;
  ev.new_state = 8;
  const auto decoded = decode_event(bytes_of(ev));
  REQUIRE(decoded.has_value());
  CHECK(decoded->kind == kind);
  CHECK(decoded->old_state == 1u);
  CHECK(decoded->new_state == 8u);
}

TEST_CASE("whole iterator rows decode in order with their fields", "[decoder]") {
  std::vector<std::byte> bytes;
  for (uint64_t cookie : {1u, 2u, 3u}) {
    const auto one = bytes_of(row_with_cookie(cookie));
    bytes.insert(bytes.end(), one.begin(), one.end());
  }
  const std::vector<sl_sock_row> rows = decode_rows(bytes);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].cookie == 1u);
  CHECK(rows[1].cookie == 2u);
  CHECK(rows[2].cookie == 3u);
  CHECK(rows[2].tgid == 30u);
  CHECK(rows[2].state == 8u);
  CHECK(rows[2].local_port == 8080);
  CHECK(rows[2].peer_port == 40003);
  CHECK(std::string(rows[2].comm) == "server");
}

TEST_CASE("empty iterator output decodes to no rows", "[decoder]") {
  CHECK(decode_rows({}).empty());
}

TEST_CASE("iterator output with a partial trailing row is an error", "[decoder]") {
  std::vector<std::byte> bytes = bytes_of(row_with_cookie(1));
  const auto second = bytes_of(row_with_cookie(2));
  bytes.insert(bytes.end(), second.begin(), second.begin() + 7);
  CHECK_THROWS_AS(decode_rows(bytes), sockleak::Error);
  CHECK_THROWS_WITH(decode_rows(bytes), Catch::Contains("sl_sock_row") && Catch::Contains(std::to_string(sizeof(sl_sock_row) + 7) + " bytes"));
  try {
    decode_rows(bytes);
  } catch (const sockleak::Error& e) {
    CHECK(e.exit_code() == sockleak::kExitRuntime);
  }
}
