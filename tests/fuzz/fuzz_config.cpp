// libFuzzer: --config file contents (kept in a memfd), parsed as `sockleak run --config`.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "app/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fd = memfd_create("sockleak-fuzz-config", 0);
  if (fd < 0) return 0;
  if (write(fd, data, size) != static_cast<ssize_t>(size)) {
    close(fd);
    return 0;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  const char* argv[] = {"sockleak", "run", "--config", path.c_str()};
  const sockleak::ParseOutcome out = sockleak::parse_options(4, argv);
  close(fd);
  if (!out.options && out.exit_code != 2) std::abort();  // bad config is always a usage error
  return 0;
}
