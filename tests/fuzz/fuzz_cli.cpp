// libFuzzer: command lines (NUL-separated arguments after "sockleak").
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "app/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"sockleak"};
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(current);
  for (const std::string& a : args) {
    if (a.rfind("--config", 0) == 0 || a.rfind("--output", 0) == 0) return 0;  // no file I/O here
  }
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  const sockleak::ParseOutcome out = sockleak::parse_options(static_cast<int>(argv.size()), argv.data());
  if (!out.options && out.exit_code != 0 && out.exit_code != 2) std::abort();
  return 0;
}
