// libFuzzer: the symbolizer helper's requests (what it reads from sockleak) and sockleak's
// reading of its answers (what a compromised helper could send). Whatever decodes must
// encode back to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "symbolize/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  if (const auto request = sockleak::decode_request(bytes)) {
    const auto again = sockleak::encode_request(*request);
    if (again.size() != size || !std::equal(again.begin(), again.end(), bytes.begin())) std::abort();
  }
  for (size_t expected : {size_t{0}, size_t{1}, size_t{3}}) {
    if (const auto texts = sockleak::decode_texts(bytes, expected)) {
      if (texts->size() != expected) std::abort();
      const auto again = sockleak::encode_texts(*texts);
      if (again.size() != size) std::abort();
    }
  }
  return 0;
}
