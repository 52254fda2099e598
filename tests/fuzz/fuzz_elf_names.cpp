// libFuzzer: a mapped "ELF file" with any content, named as the sandboxed helper names
// frames (libdwfl, DWARF lines, Go's function table). Seeds: small real binaries.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "symbolize/elf_names.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
  if (fd < 0) std::abort();
  if (size && write(fd, data, size) != static_cast<ssize_t>(size)) std::abort();
  // Addresses inside and around where ET_EXEC and ET_DYN files usually place their code.
  const std::vector<uint64_t> addresses = {0x401000, 0x401234, 0x400000, 0x1000, 0x7f0000001000, 0};
  const auto frames = sockleak::name_frames({{fd, 0x7f0000000000, "/fuzz/module"}}, addresses);
  if (frames.size() != addresses.size()) std::abort();
  return 0;
}
