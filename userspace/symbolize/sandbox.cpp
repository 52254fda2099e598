#include "symbolize/sandbox.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

namespace sockleak {
namespace {

constexpr uid_t kNobody = 65534;
constexpr rlim_t kMemoryLimit = rlim_t{4} << 30;  // mapped files count: large Go/C++ binaries fit

// What naming frames from received fds takes, and what glibc's allocator and exit need.
constexpr int kAllowed[] = {
    SYS_read,         SYS_write,        SYS_readv,     SYS_writev,       SYS_pread64,   SYS_close,
    SYS_fstat,        SYS_newfstatat,   SYS_statx,     SYS_lseek,        SYS_mmap,      SYS_munmap,
    SYS_mremap,       SYS_mprotect,     SYS_madvise,   SYS_brk,          SYS_futex,     SYS_recvmsg,
    SYS_sendmsg,      SYS_exit,         SYS_exit_group, SYS_rt_sigreturn, SYS_rt_sigprocmask,
    SYS_getpid,       SYS_gettid,       SYS_getrandom, SYS_clock_gettime, SYS_sched_yield, SYS_restart_syscall,
    SYS_getuid,       SYS_capget,        SYS_sendto,    SYS_recvfrom,
};

std::string install_seccomp() {
  std::vector<sock_filter> f;
  // Only x86-64 calls; x32 numbers (bit 30) are refused outright.
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  for (int nr : kAllowed) {
    f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  }
  // prctl only to read the confinement back (sandbox_status).
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 4));
  f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_GET_SECCOMP, 1, 0));
  f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_GET_NO_NEW_PRIVS, 0, 1));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
  sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return std::string("seccomp: ") + std::strerror(errno);
  return "";
}

void note(std::string& problems, const std::string& what) {
  if (!problems.empty()) problems += "; ";
  problems += what;
}

}  // namespace

std::string enter_sandbox(int keep) {
  std::string problems;
  for (int fd = 3; fd < keep; ++fd) close(fd);
  if (syscall(SYS_close_range, keep + 1, ~0u, 0) != 0) note(problems, "close_range");
  const rlimit none{0, 0};
#ifndef __SANITIZE_ADDRESS__  // ASan reserves terabytes of shadow address space up front
  const rlimit memory{kMemoryLimit, kMemoryLimit};
  setrlimit(RLIMIT_AS, &memory);
#endif
  setrlimit(RLIMIT_CORE, &none);
  setrlimit(RLIMIT_NPROC, &none);
  // Capabilities out of the bounding and ambient sets while they can be dropped, then the
  // user: nobody cannot signal root's processes nor write root's files.
  for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  if (geteuid() == 0) {
    if (setgroups(0, nullptr) != 0 || setresgid(kNobody, kNobody, kNobody) != 0 ||
        setresuid(kNobody, kNobody, kNobody) != 0) {
      note(problems, "still uid 0 (no CAP_SETUID)");
    }
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &header, data) != 0) note(problems, std::string("capset: ") + std::strerror(errno));
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) note(problems, "no_new_privs");
  if (std::string err = install_seccomp(); !err.empty()) note(problems, err);
  return problems;
}

std::string sandbox_status() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  const bool caps_read = syscall(SYS_capget, &header, data) == 0;
  const uint64_t caps = (uint64_t{data[0].effective} | data[0].permitted) |
                        (uint64_t{data[1].effective | data[1].permitted} << 32);
  const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  const int open_errno = fd < 0 ? errno : 0;
  if (fd >= 0) close(fd);
  return "uid=" + std::to_string(getuid()) + " caps=" + (caps_read ? std::to_string(caps) : std::string("?")) +
         " no_new_privs=" + std::to_string(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)) +
         " seccomp=" + std::to_string(prctl(PR_GET_SECCOMP, 0, 0, 0, 0)) +
         " open=" + (open_errno ? std::string(strerrorname_np(open_errno)) : std::string("allowed"));
}

}  // namespace sockleak
