// libFuzzer: duration strings. Whatever parses must format back to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/duration.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const sockleak::Nanos d = sockleak::parse_duration(text);
    if (d.count() < 0 || sockleak::parse_duration(sockleak::format_duration(d)) != d) std::abort();
  } catch (const sockleak::Error& e) {
    if (e.exit_code() != sockleak::kExitUsage) std::abort();
  }
  return 0;
}
