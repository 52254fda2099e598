// Names return addresses from the files a process mapped, read from file descriptors only
// (libdwfl: symbol tables, DWARF lines; Go's own function table when a Go binary has no
// symbols). Runs in the sandboxed helper: its input is other programs' files, untrusted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sockleak {

struct ModuleFile {
  int fd = -1;        // consumed: closed by name_frames
  uint64_t base = 0;  // where the file's offset 0 is mapped
  std::string name;   // its path in the mappings
};

// One frame per address, innermost first: "function (file:line)", "function (module)",
// "0xFILEADDR (module build-id HEX)" without symbols, "0xADDR" outside every module.
// Return addresses (all but the first) are looked up one byte back, at the call.
std::vector<std::string> name_frames(std::vector<ModuleFile> modules, const std::vector<uint64_t>& addresses);

}  // namespace sockleak
