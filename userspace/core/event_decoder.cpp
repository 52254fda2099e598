#include "core/event_decoder.h"

#include <cstring>
#include <string>

#include "core/error.h"

namespace sockleak {

std::optional<sl_event> decode_event(std::span<const std::byte> bytes) {
  if (bytes.size() != sizeof(sl_event)) return std::nullopt;
  sl_event ev;
  std::memcpy(&ev, bytes.data(), sizeof ev);
  switch (ev.kind) {
    case SL_EV_STATE:
    case SL_EV_FD_CLOSE:
    case SL_EV_CLOSE_RANGE:
    case SL_EV_CALL_SITE:
      return ev;
    default:
      return std::nullopt;
  }
}

std::optional<sl_exit_close> decode_exit_close(std::span<const std::byte> bytes) {
  if (bytes.size() != sizeof(sl_exit_close)) return std::nullopt;
  sl_exit_close record;
  std::memcpy(&record, bytes.data(), sizeof record);
  if (record.head.kind != SL_EV_EXIT_CLOSE || record.row.cookie != record.head.cookie) return std::nullopt;
  return record;
}

namespace {

template <typename Record>
std::vector<Record> decode_records(std::span<const std::byte> bytes, const char* name) {
  if (bytes.size() % sizeof(Record) != 0) {
    throw Error("iterator output of " + std::to_string(bytes.size()) + " bytes is not a whole number of " +
                std::to_string(sizeof(Record)) + "-byte rows: BPF object and binary disagree on " + name);
  }
  std::vector<Record> records(bytes.size() / sizeof(Record));
  if (!records.empty()) std::memcpy(records.data(), bytes.data(), bytes.size());
  return records;
}

}  // namespace

std::vector<sl_sock_row> decode_rows(std::span<const std::byte> bytes) {
  return decode_records<sl_sock_row>(bytes, "sl_sock_row");
}

std::vector<sl_capturer> decode_executables(std::span<const std::byte> bytes) {
  return decode_records<sl_capturer>(bytes, "sl_capturer");
}

}  // namespace sockleak
