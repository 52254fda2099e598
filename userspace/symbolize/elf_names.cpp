#include "symbolize/elf_names.h"

#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>

#include "core/go_pclntab.h"

namespace sockleak {
namespace {

// Files come as descriptors: nothing is looked up by path (the sandbox forbids open()).
const Dwfl_Callbacks kCallbacks = {
    .find_elf = nullptr,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,
};

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string build_id(Dwfl_Module* module) {
  const unsigned char* bits = nullptr;
  GElf_Addr vaddr = 0;
  const int n = dwfl_module_build_id(module, &bits, &vaddr);
  std::string id;
  for (int i = 0; i < n; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", bits[i]);
    id += byte;
  }
  return id;
}

// The Go function table of a module, when it is a Go program (see core/go_pclntab.h).
std::optional<GoFuncTable> go_functions(Dwfl_Module* module) {
  GElf_Addr bias = 0;
  Elf* elf = dwfl_module_getelf(module, &bias);
  size_t names = 0;
  if (!elf || elf_getshdrstrndx(elf, &names) != 0) return std::nullopt;
  std::span<const std::byte> table;
  uint64_t text = 0;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr shdr;
    if (!gelf_getshdr(scn, &shdr)) continue;
    const char* name = elf_strptr(elf, names, shdr.sh_name);
    if (!name) continue;
    if (std::strcmp(name, ".text") == 0) text = shdr.sh_addr;
    if (std::strcmp(name, ".gopclntab") != 0 || shdr.sh_type == SHT_NOBITS) continue;
    if (Elf_Data* data = elf_getdata(scn, nullptr); data && data->d_buf) {
      table = {static_cast<const std::byte*>(data->d_buf), data->d_size};
    }
  }
  return table.empty() ? std::nullopt : GoFuncTable::parse(table, text);
}

struct DwflDeleter {
  void operator()(Dwfl* dwfl) const { dwfl_end(dwfl); }
};

}  // namespace

std::vector<std::string> name_frames(std::vector<ModuleFile> modules, const std::vector<uint64_t>& addresses) {
  std::unique_ptr<Dwfl, DwflDeleter> dwfl(dwfl_begin(&kCallbacks));
  if (dwfl) {
    dwfl_report_begin(dwfl.get());
    for (ModuleFile& m : modules) {
      // ET_DYN is placed at base; ET_EXEC at its own addresses. Accepted, the fd is
      // libdwfl's; refused (not ELF), it is closed below.
      if (dwfl_report_elf(dwfl.get(), m.name.c_str(), m.name.c_str(), m.fd, m.base, false)) m.fd = -1;
    }
    dwfl_report_end(dwfl.get(), nullptr, nullptr);
  }
  for (ModuleFile& m : modules) {
    if (m.fd >= 0) close(m.fd);
  }
  std::map<Dwfl_Module*, std::optional<GoFuncTable>> go_tables;
  std::vector<std::string> out;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const uint64_t pc = i == 0 ? addresses[i] : addresses[i] - 1;
    Dwfl_Module* module = dwfl ? dwfl_addrmodule(dwfl.get(), pc) : nullptr;
    if (!module) {
      out.push_back(hex(addresses[i]));
      continue;
    }
    const char* name = dwfl_module_addrname(module, pc);
    const char* module_name = dwfl_module_info(module, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    GElf_Addr bias = 0;
    dwfl_module_getelf(module, &bias);
    std::optional<std::string> go_name;
    if (!name) {  // no symbol table (go test links with -s -w): the Go runtime's own table
      auto [known, fresh] = go_tables.try_emplace(module);
      if (fresh) known->second = go_functions(module);
      if (known->second) go_name = known->second->function_at(pc - bias);
      if (go_name) name = go_name->c_str();
    }
    std::string frame = name ? name : hex(addresses[i]);
    if (Dwfl_Line* line = dwfl_module_getsrc(module, pc)) {
      int lineno = 0;
      if (const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr)) {
        frame += " (" + std::string(file) + ":" + std::to_string(lineno) + ")";
      }
    } else if (!name) {
      // No symbols (stripped): the file's own address, for addr2line on an unstripped copy.
      frame = hex(addresses[i] - bias) + " (" + std::string(module_name ? module_name : "?") + " build-id " +
              build_id(module) + ")";
    } else {
      frame += " (" + std::string(module_name ? module_name : "?") + ")";
    }
    out.push_back(frame);
  }
  return out;
}

}  // namespace sockleak
