// Benchmark: nanoseconds per syscall for a trivial syscall (getppid) and for close() of a
// non-socket fd (the call sockleak's sys_enter hook inspects). Prints "<name>_ns <n>".
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace {

template <typename Fn>
double ns_per_call(long n, Fn fn) {
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) fn();
  return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
         static_cast<double>(n);
}

}  // namespace

int main() {
  const long n = 2'000'000;
  const double trivial = ns_per_call(n, [] { (void)getppid(); });
  int base = open("/dev/null", O_RDONLY);
  const double dup_close = ns_per_call(n / 2, [base] { close(dup(base)); });
  std::printf("getppid_ns %.1f\ndup_close_ns %.1f\n", trivial, dup_close);
  return 0;
}
