#include "kernel/symbolizer.h"

#include <elfutils/libdwfl.h>

#include <cstdio>

namespace sockleak {
namespace {

const Dwfl_Callbacks kProcCallbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
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
  Dwfl* dwfl = session_for(process);
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

void Symbolizer::retain(const std::vector<ProcessKey>& live) {
  std::map<ProcessKey, std::unique_ptr<Dwfl, DwflDeleter>> kept;
  for (const ProcessKey& k : live) {
    auto it = sessions_.find(k);
    if (it != sessions_.end()) kept.emplace(k, std::move(it->second));
  }
  sessions_ = std::move(kept);
}

}  // namespace sockleak
