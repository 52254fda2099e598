// libFuzzer: Go function tables (.gopclntab) from programs sockleak does not trust. Any
// bytes either parse or not; lookups anywhere never read outside them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "core/go_pclntab.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  const auto table = sockleak::GoFuncTable::parse(bytes, 0x1000);
  if (!table) return 0;
  // Addresses at and around every 32-bit value of the input, where entries would point.
  for (size_t at = 0; at + 4 <= size && at < 4096; at += 4) {
    uint32_t v = 0;
    std::memcpy(&v, data + at, 4);
    for (uint64_t base : {uint64_t{0x1000}, uint64_t{0x401000}}) {
      const auto name = table->function_at(base + v);
      if (name && name->empty()) __builtin_trap();
    }
  }
  return 0;
}
