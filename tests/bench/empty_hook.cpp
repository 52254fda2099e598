// Benchmark fixture: attaches an empty program to tp_btf/inet_sock_set_state (the tracepoint
// sockleak's state hook runs on) and holds it until stdin closes. Prints "ATTACHED" once
// attached; exits 1 with the reason if it cannot load or attach.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "empty_hook.skel.h"

namespace {

struct SkeletonDeleter {
  void operator()(empty_hook_bpf* skel) const { empty_hook_bpf__destroy(skel); }
};

}  // namespace

int main() {
  std::unique_ptr<empty_hook_bpf, SkeletonDeleter> skel(empty_hook_bpf__open_and_load());
  if (!skel) {
    std::fprintf(stderr, "empty hook: load: %s\n", std::strerror(errno));
    return 1;
  }
  if (empty_hook_bpf__attach(skel.get()) != 0) {
    std::fprintf(stderr, "empty hook: attach tp_btf/inet_sock_set_state: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("ATTACHED\n");
  std::fflush(stdout);
  char byte;
  while (read(STDIN_FILENO, &byte, 1) > 0) {
  }
  return 0;
}
