#include "kernel/symbolizer.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "symbolize/helper.h"

namespace sockleak {
namespace {

constexpr int kAnswerTimeoutMs = 10'000;  // a large DWARF file takes a second or two
constexpr int kMaxFailures = 5;

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::vector<std::string> addresses_only(const std::vector<uint64_t>& addresses) {
  std::vector<std::string> out;
  for (uint64_t a : addresses) out.push_back(hex(a));
  return out;
}

// A regular file only: opening a mapped device could block or have side effects.
int open_regular(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return -1;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

Symbolizer::Symbolizer(std::string helper) : helper_path_(std::move(helper)) {}

Symbolizer::~Symbolizer() { stop_helper(); }

const std::vector<Symbolizer::Mapping>* Symbolizer::maps_for(const ProcessKey& process) {
  auto [it, fresh] = maps_.try_emplace(process);
  if (!fresh) return it->second ? &*it->second : nullptr;
  std::ifstream in("/proc/" + std::to_string(process.pid) + "/maps");
  if (!in) return nullptr;
  std::vector<Mapping> maps;
  for (std::string line; std::getline(in, line);) {
    Mapping m;
    unsigned long long start = 0, end = 0, offset = 0;
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %*s %llx %*s %*s %n", &start, &end, &offset, &path_at) < 3) continue;
    m.start = start;
    m.end = end;
    m.offset = offset;
    if (path_at > 0 && static_cast<size_t>(path_at) < line.size()) m.path = line.substr(static_cast<size_t>(path_at));
    maps.push_back(std::move(m));
  }
  it->second = std::move(maps);
  return &*it->second;
}

std::vector<std::string> Symbolizer::frames(const ProcessKey& process, const std::vector<uint64_t>& addresses) {
  const std::vector<Mapping>* maps = process.pid ? maps_for(process) : nullptr;
  if (!maps || addresses.empty()) return addresses_only(addresses);
  SymbolizeRequest request;
  request.addresses = addresses;
  std::vector<UniqueFd> files;
  std::map<std::string, bool> seen;  // path -> sent
  const std::string proc = "/proc/" + std::to_string(process.pid);
  for (size_t i = 0; i < addresses.size() && request.modules.size() < kMaxModules; ++i) {
    const uint64_t pc = i == 0 ? addresses[i] : addresses[i] - 1;
    const Mapping* hit = nullptr;
    for (const Mapping& m : *maps) {
      if (pc >= m.start && pc < m.end) hit = &m;
    }
    if (!hit || hit->path.empty() || hit->path[0] != '/' || seen.contains(hit->path)) continue;
    seen[hit->path] = true;
    // The file's offset 0 is where its first mapping starts.
    uint64_t base = hit->start - hit->offset;
    for (const Mapping& m : *maps) {
      if (m.path == hit->path && m.offset == 0) {
        base = m.start;
        break;
      }
    }
    char range[64];
    std::snprintf(range, sizeof range, "/map_files/%" PRIx64 "-%" PRIx64, hit->start, hit->end);
    int fd = open_regular(proc + range);
    if (fd < 0 && hit->path.find(" (deleted)") == std::string::npos) fd = open_regular(proc + "/root" + hit->path);
    if (fd < 0) continue;
    files.emplace_back(fd);
    request.modules.push_back({base, hit->path});
  }
  if (request.modules.empty()) return addresses_only(addresses);
  std::vector<int> fds;
  for (const UniqueFd& f : files) fds.push_back(f.get());
  auto named = ask(request, fds, addresses.size());
  return named ? std::move(*named) : addresses_only(addresses);
}

std::string Symbolizer::helper_status() {
  SymbolizeRequest request;
  request.kind = SymbolizeKind::kStatus;
  auto texts = ask(request, {}, 1);
  return texts ? texts->front() : "no helper (" + helper_path_ + " " + kSymbolizerCommand + " did not answer)";
}

std::optional<std::vector<std::string>> Symbolizer::ask(const SymbolizeRequest& request, const std::vector<int>& fds,
                                                        size_t expected) {
  if (!channel_.valid() && !start_helper()) return std::nullopt;
  const std::vector<std::byte> bytes = encode_request(request);
  iovec iov{const_cast<std::byte*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control(CMSG_SPACE(sizeof(int) * (fds.empty() ? 1 : fds.size())));
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  std::optional<std::vector<std::string>> answer;
  if (sendmsg(channel_.get(), &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    pollfd p{channel_.get(), POLLIN, 0};
    if (poll(&p, 1, kAnswerTimeoutMs) == 1 && (p.revents & POLLIN)) {
      std::vector<std::byte> reply(kMaxMessage);
      const ssize_t n = recv(channel_.get(), reply.data(), reply.size(), MSG_TRUNC);
      if (n > 0 && static_cast<size_t>(n) <= reply.size()) answer = decode_texts({reply.data(), static_cast<size_t>(n)}, expected);
    }
  }
  if (!answer) {
    stop_helper();  // crashed, hung or confused: the next request gets a new one
    ++failures_;
    return std::nullopt;
  }
  failures_ = 0;
  return answer;
}

bool Symbolizer::start_helper() {
  if (failures_ >= kMaxFailures) return false;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return false;
  UniqueFd mine(sv[0]);
  UniqueFd theirs(sv[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), kSymbolizerChannel);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group: a terminal's Ctrl-C is for sockleak (or exec's COMMAND), not it.
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  std::string arg0 = "sockleak";
  std::string arg1 = kSymbolizerCommand;
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = -1;
  const int err = posix_spawn(&pid, helper_path_.c_str(), &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    ++failures_;
    return false;
  }
  helper_pid_ = pid;
  channel_ = std::move(mine);
  return true;
}

void Symbolizer::stop_helper() {
  channel_.reset();
  if (helper_pid_ > 0) {
    kill(helper_pid_, SIGKILL);
    while (waitpid(helper_pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  helper_pid_ = -1;
}

}  // namespace sockleak
