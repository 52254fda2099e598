#include "kernel/symbolizer.h"

#include <dirent.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <gelf.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sockleak {
namespace {

// The process whose modules libdwfl is resolving now: its find_elf callback gets no pid.
thread_local pid_t t_pid = 0;

// /proc/PID/map_files/START-END for the mapping that starts at base: the very file the
// process mapped, even when its path now names another file or nothing (" (deleted)").
std::string mapped_file(pid_t pid, uint64_t base) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/map_files";
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "%llx-", static_cast<unsigned long long>(base));
  std::string found;
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d)) {
      if (std::strncmp(e->d_name, prefix, std::strlen(prefix)) == 0) {
        found = dir + "/" + e->d_name;
        break;
      }
    }
    closedir(d);
  }
  return found;
}

int find_mapped_elf(Dwfl_Module* module, void** userdata, const char* name, Dwarf_Addr base, char** file_name,
                    Elf** elf) {
  if (name[0] == '/' && t_pid > 0) {
    const std::string path = mapped_file(t_pid, base);
    struct stat st {};
    // Only regular files: opening a mapped device could block or have side effects.
    const bool regular = !path.empty() && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
    const int fd = regular ? open(path.c_str(), O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
      // libdwfl reads the ELF from fd and frees file_name; the module keeps its maps name.
      *file_name = strdup(name);
      return fd;
    }
  }
  return dwfl_linux_proc_find_elf(module, userdata, name, base, file_name, elf);
}

const Dwfl_Callbacks kProcCallbacks = {
    .find_elf = find_mapped_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = nullptr,
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

}  // namespace

void Symbolizer::DwflDeleter::operator()(Dwfl* dwfl) const { dwfl_end(dwfl); }

Symbolizer::Symbolizer() = default;
Symbolizer::~Symbolizer() = default;

Dwfl* Symbolizer::session_for(const ProcessKey& process) {
  auto it = sessions_.find(process);
  if (it != sessions_.end()) return it->second.get();
  std::unique_ptr<Dwfl, DwflDeleter> dwfl(dwfl_begin(&kProcCallbacks));
  if (!dwfl) return nullptr;
  if (dwfl_linux_proc_report(dwfl.get(), static_cast<pid_t>(process.pid)) != 0 ||
      dwfl_report_end(dwfl.get(), nullptr, nullptr) != 0) {
    return nullptr;  // exited, or /proc not readable: frames stay addresses
  }
  return sessions_.emplace(process, std::move(dwfl)).first->second.get();
}

std::vector<std::string> Symbolizer::frames(const ProcessKey& process, const std::vector<uint64_t>& addresses) {
  std::vector<std::string> out;
  struct PidScope {
    explicit PidScope(pid_t pid) { t_pid = pid; }
    ~PidScope() { t_pid = 0; }
  } scope(static_cast<pid_t>(process.pid));
  Dwfl* dwfl = process.pid ? session_for(process) : nullptr;
  for (size_t i = 0; i < addresses.size(); ++i) {
    // Return addresses point after the call: look up the call instruction itself.
    const uint64_t pc = i == 0 ? addresses[i] : addresses[i] - 1;
    Dwfl_Module* module = dwfl ? dwfl_addrmodule(dwfl, pc) : nullptr;
    if (!module) {
      out.push_back(hex(addresses[i]));
      continue;
    }
    const char* name = dwfl_module_addrname(module, pc);
    const char* module_name = dwfl_module_info(module, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
    std::optional<std::string> go_name;
    if (!name) {  // no symbol table (go test links with -s -w): the Go runtime's own table
      auto [known, fresh] = go_tables_.try_emplace(module);
      if (fresh) known->second = go_functions(module);
      GElf_Addr bias = 0;
      dwfl_module_getelf(module, &bias);
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
      GElf_Addr bias = 0;
      dwfl_module_getelf(module, &bias);
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
