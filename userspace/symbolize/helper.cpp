#include "symbolize/helper.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "symbolize/elf_names.h"
#include "symbolize/protocol.h"
#include "symbolize/sandbox.h"

namespace sockleak {
namespace {

bool reply(int channel, const std::vector<std::string>& texts) {
  const std::vector<std::byte> bytes = encode_texts(texts);
  return send(channel, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

}  // namespace

int run_symbolizer_helper(int channel) {
  const std::string problems = enter_sandbox(channel);
  // Parsing untrusted files unconfined is what the helper exists to avoid.
  if (problems.find("seccomp") != std::string::npos || problems.find("capset") != std::string::npos) {
    std::fprintf(stderr, "sockleak symbolizer: cannot confine itself (%s)\n", problems.c_str());
    return 1;
  }
  std::vector<std::byte> buffer(kMaxMessage);
  std::vector<char> control(CMSG_SPACE(sizeof(int) * kMaxModules));
  for (;;) {
    iovec iov{buffer.data(), buffer.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    const ssize_t n = recvmsg(channel, &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) return 0;  // sockleak is gone
    std::vector<int> fds;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds.push_back(fd);
      }
    }
    const auto request = decode_request({buffer.data(), static_cast<size_t>(n)});
    const bool whole = !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
    if (!request || !whole || fds.size() != request->modules.size()) {
      for (int fd : fds) close(fd);
      if (!reply(channel, {})) return 1;  // sockleak refuses the answer and counts a failure
      continue;
    }
    if (request->kind == SymbolizeKind::kStatus) {
      for (int fd : fds) close(fd);
      if (!reply(channel, {sandbox_status() + (problems.empty() ? "" : " problems=" + problems)})) return 1;
      continue;
    }
    std::vector<ModuleFile> modules;
    for (size_t i = 0; i < fds.size(); ++i) modules.push_back({fds[i], request->modules[i].base, request->modules[i].name});
    if (!reply(channel, name_frames(std::move(modules), request->addresses))) return 1;
  }
}

}  // namespace sockleak
