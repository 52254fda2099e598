// libFuzzer: raw ring-buffer and iterator bytes through the decoder into the aggregator.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "core/event_decoder.h"
#include "core/socket_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  sockleak::SocketTable table;
  if (auto event = sockleak::decode_event(bytes)) table.apply(*event);
  try {
    const auto rows = sockleak::decode_rows(bytes);
    table.apply_reconcile(rows, 5'000'000'000);
    table.apply_scan(rows, 6'000'000'000);
    (void)table.needs_reconcile([](const sockleak::ProcessKey& k) { return k.pid % 2 == 0; });
    (void)table.report({}, 7'000'000'000);
    for (size_t at = 0; at + sizeof(sl_event) <= size; at += sizeof(sl_event)) {
      if (auto event = sockleak::decode_event(bytes.subspan(at, sizeof(sl_event)))) table.apply(*event);
    }
    (void)table.report({std::chrono::nanoseconds(0), std::chrono::nanoseconds(0)}, 8'000'000'000);
  } catch (const sockleak::Error&) {
  }
  return 0;
}
