// Catch2 main for tiers that need root and a BPF-capable kernel: exit 77 (ctest SKIP)
// when not root, so the suite reports a skip instead of a misleading failure.
#define CATCH_CONFIG_RUNNER
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::puts("SKIP: this test tier needs root (CAP_BPF, CAP_PERFMON)");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
