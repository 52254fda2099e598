#include "kernel/proc_reader.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string_view>
#include <sstream>

#include "output/json_records.h"

namespace sockleak {
namespace {

int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Whether a directory has an entry other than . and .., reading no further than the first.
bool has_entries(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (!dir) return false;
  bool found = false;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') {
      found = true;
      break;
    }
  }
  closedir(dir);
  return found;
}

// Whether an fd directory lists any fd: its size where the kernel gives it (6.2+), else its
// first entry (reading a directory of /proc fills a whole batch of entries).
bool has_fds(const std::string& fd_dir) {
  struct stat st {};
  if (stat(fd_dir.c_str(), &st) == 0 && st.st_size > 0) return true;
  return has_entries(fd_dir);
}

std::optional<uint64_t> count_dir_entries(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (!dir) return std::nullopt;
  uint64_t n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

// Open fds in an fd directory: its size where the kernel gives it (6.2+: one stat instead of
// reading every entry, 18,000 in a big process), else its entries counted.
std::optional<uint64_t> count_fds(const std::string& fd_dir) {
  struct stat st {};
  if (stat(fd_dir.c_str(), &st) == 0 && st.st_size > 0) return static_cast<uint64_t>(st.st_size);
  return count_dir_entries(fd_dir);
}

std::optional<uint64_t> nofile_soft_limit(const std::string& limits_path) {
  std::ifstream in(limits_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream fields(line.substr(std::string("Max open files").size()));
    std::string soft;
    fields >> soft;
    if (soft == "unlimited") return std::nullopt;
    try {
      return std::stoull(soft);
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// The boot-time offset of sockleak's time namespace (0 outside one, or before 5.6). /proc
// shows start times shifted by it, CLOCK_BOOTTIME reads shifted by it; the kernel's own
// start times (BPF) are not.
int64_t boottime_offset_ns(const std::string& root) {
  std::ifstream in(root + "/self/timens_offsets");
  std::string clock;
  int64_t seconds = 0, nanoseconds = 0;
  while (in >> clock >> seconds >> nanoseconds) {
    if (clock == "boottime") return seconds * 1'000'000'000 + nanoseconds;
  }
  return 0;
}

}  // namespace

ProcReader::ProcReader(std::string proc_root, std::string container_logs)
    : root_(std::move(proc_root)),
      container_logs_(std::move(container_logs)),
      ticks_per_second_(sysconf(_SC_CLK_TCK)),
      boottime_offset_ns_(boottime_offset_ns(root_)),
      boot_realtime_ns_(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME) + boottime_offset_ns_) {}

std::optional<uint64_t> ProcReader::start_ticks(uint32_t pid) const {
  std::ifstream in(root_ + "/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // comm may contain spaces and ')': fields resume after the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i != 22) continue;
    // In kernel terms (host boot time), as BPF reports start times.
    const auto offset = boottime_offset_ns_ / (1'000'000'000 / ticks_per_second_);
    const auto ticks = static_cast<int64_t>(std::stoull(field)) - offset;
    return ticks >= 0 ? std::optional<uint64_t>(static_cast<uint64_t>(ticks)) : std::nullopt;
  }
  return std::nullopt;
}

std::optional<ProcessKey> ProcReader::key_of(uint32_t pid) const {
  const auto ticks = start_ticks(pid);
  if (!ticks || ticks_per_second_ <= 0) return std::nullopt;
  return ProcessKey{pid, *ticks * (1'000'000'000 / static_cast<uint64_t>(ticks_per_second_))};
}

bool ProcReader::alive(const ProcessKey& key) const {
  const auto ticks = start_ticks(key.pid);
  if (!ticks || ticks_per_second_ <= 0) return false;
  // One tick either way: a time namespace's boot-time offset need not be whole ticks.
  const uint64_t kernel = key.start_ns / (1'000'000'000 / static_cast<uint64_t>(ticks_per_second_));
  return *ticks + 1 >= kernel && *ticks <= kernel + 1;
}

std::string ProcReader::fd_dir(uint32_t pid) const {
  const std::string process = root_ + "/" + std::to_string(pid);
  if (has_fds(process + "/fd")) return process + "/fd";
  // Empty: the leader may have exited on its own (pthread_exit) and lost its fd table while
  // its threads go on; their table is the process's.
  DIR* tasks = opendir((process + "/task").c_str());
  if (!tasks) return process + "/fd";
  std::string found = process + "/fd";
  while (dirent* e = readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    const std::string dir = process + "/task/" + e->d_name + "/fd";
    if (has_fds(dir)) {
      found = dir;
      break;
    }
  }
  closedir(tasks);
  return found;
}

std::optional<std::map<uint32_t, uint32_t>> ProcReader::socket_fds(const ProcessKey& key) const {
  const std::string path = fd_dir(key.pid);
  DIR* dir = opendir(path.c_str());
  if (!dir) return std::nullopt;
  std::map<uint32_t, uint32_t> inodes;
  constexpr std::string_view kPrefix = "socket:[";
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    char target[64];
    const ssize_t n = readlinkat(dirfd(dir), e->d_name, target, sizeof target - 1);
    if (n <= 0) continue;
    const std::string_view link(target, static_cast<size_t>(n));
    if (link.substr(0, kPrefix.size()) != kPrefix) continue;
    ++inodes[static_cast<uint32_t>(std::strtoul(target + kPrefix.size(), nullptr, 10))];
  }
  closedir(dir);
  // Read after the table: a pid reused meanwhile is a different process.
  if (!alive(key)) return std::map<uint32_t, uint32_t>{};
  return inodes;
}

ProcessDetails ProcReader::details(const ProcessKey& key, const std::string& name_hint) const {
  ProcessDetails d;
  d.name = name_hint;
  const auto when = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::nanoseconds(boot_realtime_ns_ + static_cast<int64_t>(key.start_ns))));
  d.start_time = rfc3339(when);
  if (!alive(key)) return d;
  const std::string dir = root_ + "/" + std::to_string(key.pid);
  std::ifstream comm(dir + "/comm");
  std::string name;
  if (std::getline(comm, name)) d.name = name;
  d.fd_open = count_fds(fd_dir(key.pid));
  d.fd_limit = nofile_soft_limit(dir + "/limits");
  d.identity = identity(key.pid);
  return d;
}

WorkloadIdentity ProcReader::identity(uint32_t pid) const {
  std::ifstream in(root_ + "/" + std::to_string(pid) + "/cgroup");
  std::stringstream text;
  text << in.rdbuf();
  WorkloadIdentity id = identity_from_cgroup(text.str());
  if (id.container_id.empty()) return id;
  DIR* dir = opendir(container_logs_.c_str());
  if (!dir) return id;  // not a Kubernetes node, or /var/log not mounted
  while (dirent* e = readdir(dir)) {
    if (auto names = names_from_container_log(e->d_name, id.container_id)) {
      id.pod_namespace = names->pod_namespace;
      id.pod_name = names->pod_name;
      id.container_name = names->container_name;
      break;
    }
  }
  closedir(dir);
  return id;
}

}  // namespace sockleak
