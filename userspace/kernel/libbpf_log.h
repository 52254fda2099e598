// libbpf's messages into sockleak's stderr: warnings always, debug lines with -v. Set once,
// before the first libbpf call (the feature probes parse BTF before anything loads).
#pragma once

#include <string>

namespace sockleak {

void route_libbpf_log(bool verbose);
bool libbpf_verbose();

// While alive, libbpf's warnings are dropped unless -v: for calls whose failure sockleak
// reports itself, in one line (parsing a --btf file, for one).
class QuietLibbpf {
 public:
  QuietLibbpf();
  ~QuietLibbpf();
  QuietLibbpf(const QuietLibbpf&) = delete;
  QuietLibbpf& operator=(const QuietLibbpf&) = delete;
};
// strerror() that also knows libbpf's own codes (4000 and up, e.g. "Invalid BTF format").
std::string libbpf_error_text(int err);

}  // namespace sockleak
