#include "kernel/libbpf_log.h"

#include <bpf/libbpf.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace sockleak {
namespace {

std::atomic<bool> g_verbose{false};
std::atomic<bool> g_quiet{false};

int print_libbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if ((level == LIBBPF_DEBUG || g_quiet.load()) && !g_verbose.load()) return 0;
  std::fputs("sockleak: ", stderr);  // libbpf's own lines start with "libbpf: "
  return std::vfprintf(stderr, format, args);
}

}  // namespace

void route_libbpf_log(bool verbose) {
  g_verbose.store(verbose);
  libbpf_set_print(print_libbpf);
}

bool libbpf_verbose() { return g_verbose.load(); }

QuietLibbpf::QuietLibbpf() { g_quiet.store(true); }
QuietLibbpf::~QuietLibbpf() { g_quiet.store(false); }

std::string libbpf_error_text(int err) {
  if (err < 0) err = -err;
  char text[128] = {};
  if (libbpf_strerror(err, text, sizeof text) == 0) return text;
  return std::strerror(err);
}

}  // namespace sockleak
