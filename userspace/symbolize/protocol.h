// Messages between sockleak and its symbolizer helper (SOCK_SEQPACKET, one message each
// way per request). The helper parses other programs' ELF files, so it is the untrusted
// side: sockleak decodes what it says as carefully as the helper decodes what it gets.
//   request:  a stack's addresses and the modules (mapped files) they fall in; the files
//             themselves travel as SCM_RIGHTS fds, one per module, in order
//   response: one frame per address ("function (file:line)", or the address)
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sockleak {

inline constexpr uint32_t kSymbolizeMagic = 0x534c5359;  // "SLSY"
inline constexpr size_t kMaxModules = 64;
inline constexpr size_t kMaxAddresses = 128;
inline constexpr size_t kMaxText = 4096;  // module names, frames
inline constexpr size_t kMaxMessage = 1 << 20;

enum class SymbolizeKind : uint32_t {
  kFrames = 1,  // name these addresses
  kStatus = 2,  // describe the sandbox (uid, capabilities, seccomp, whether open() works)
};

struct SymbolizeModule {
  uint64_t base = 0;  // where the file's offset 0 is mapped in the process
  std::string name;   // its path in the process's mappings
};

struct SymbolizeRequest {
  SymbolizeKind kind = SymbolizeKind::kFrames;
  std::vector<SymbolizeModule> modules;
  std::vector<uint64_t> addresses;
};

std::vector<std::byte> encode_request(const SymbolizeRequest& request);
std::optional<SymbolizeRequest> decode_request(std::span<const std::byte> bytes);
std::vector<std::byte> encode_texts(const std::vector<std::string>& texts);
// nullopt unless exactly `expected` texts, each within kMaxText.
std::optional<std::vector<std::string>> decode_texts(std::span<const std::byte> bytes, size_t expected);

}  // namespace sockleak
