// GoFuncTable: function names of a Go program from its .gopclntab section, the table the
// Go runtime itself uses for stack traces. It is there even when the symbol table and DWARF
// are not: `go test` links its test binaries with -s -w. Go 1.18 and later (pcHeader magic
// 0xfffffff0 or 0xfffffff1, 64-bit). Parses untrusted bytes: every offset is checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sockleak {

class GoFuncTable {
 public:
  // section: the .gopclntab contents; text_addr: the .text section's address, the base of
  // function offsets when the header's own (relocated at run time in PIE) reads 0.
  // nullopt when the bytes are not a table of a supported version.
  static std::optional<GoFuncTable> parse(std::span<const std::byte> section, uint64_t text_addr);
  // The name of the function containing the file address pc, if any.
  std::optional<std::string> function_at(uint64_t pc) const;
  size_t functions() const { return nfunc_; }

 private:
  std::vector<std::byte> bytes_;
  uint64_t text_start_ = 0;
  uint64_t nfunc_ = 0;
  uint64_t funcnames_ = 0;  // offsets into bytes_
  uint64_t functab_ = 0;
};

}  // namespace sockleak
