#include "kernel/privileges.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

#include "core/error.h"

namespace sockleak {
namespace {

constexpr int kCapDacReadSearch = 2;
constexpr int kCapSysPtrace = 19;
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;
constexpr int kCapCheckpointRestore = 40;

uint64_t effective_caps() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return 0;
  return static_cast<uint64_t>(data[0].effective) | (static_cast<uint64_t>(data[1].effective) << 32);
}

}  // namespace

std::vector<std::string> check_privileges(bool call_sites) {
  const uint64_t caps = effective_caps();
  auto has = [caps](int cap) { return (caps >> cap) & 1u; };
  std::string missing;
  if (!has(kCapSysAdmin)) {
    if (!has(kCapBpf)) missing += " CAP_BPF";
    if (!has(kCapPerfmon)) missing += " CAP_PERFMON";
  }
  if (!missing.empty()) {
    throw Error("missing capabilities:" + missing +
                    " (run as root, or grant them, e.g. AmbientCapabilities=CAP_BPF CAP_PERFMON)",
                kExitUnsupported);
  }
  std::vector<std::string> warnings;
  if (!has(kCapSysPtrace) && !has(kCapDacReadSearch)) {
    warnings.push_back("no CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH: fd counts of other users' processes will be missing");
  }
  if (call_sites && !has(kCapSysAdmin) && !has(kCapCheckpointRestore)) {
    warnings.push_back("no CAP_CHECKPOINT_RESTORE: call sites in binaries replaced or deleted on disk will be addresses");
  }
  return warnings;
}

}  // namespace sockleak
