// Root tier: call sites are named by the sandboxed helper (sockleak __symbolizer), which
// is confined as it says, cannot open files, and is replaced when it dies.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "kernel/symbolizer.h"

namespace {

// A function of this binary (built with -g) for the helper to name.
[[gnu::noinline]] int symbolizer_test_marker(int x) { return x * 3 + 1; }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("the symbolizer helper runs as nobody, without capabilities, under seccomp, unable to open files",
          "[bpf][symbolizer]") {
  sockleak::Symbolizer symbols(SOCKLEAK_BIN);
  const std::string status = symbols.helper_status();
  INFO(status);
  CHECK(contains(status, "uid=65534 "));
  CHECK(contains(status, " caps=0 "));
  CHECK(contains(status, " no_new_privs=1 "));
  CHECK(contains(status, " seccomp=2 "));
  CHECK(contains(status, " open=EPERM"));
  CHECK(!contains(status, "problems="));
}

TEST_CASE("the symbolizer helper names this process's function and is replaced after it is killed",
          "[bpf][symbolizer]") {
  CHECK(symbolizer_test_marker(1) == 4);
  sockleak::Symbolizer symbols(SOCKLEAK_BIN);
  const sockleak::ProcessKey self{static_cast<uint32_t>(getpid()), 1};
  const std::vector<uint64_t> stack = {reinterpret_cast<uint64_t>(&symbolizer_test_marker) + 4};
  const std::vector<std::string> first = symbols.frames(self, stack);
  REQUIRE(first.size() == 1);
  CHECK(contains(first[0], "symbolizer_test_marker"));
  CHECK(contains(first[0], "symbolizer_test.cpp:"));
  const pid_t helper = symbols.helper_pid();
  REQUIRE(helper > 0);
  REQUIRE(kill(helper, SIGKILL) == 0);
  symbols.clear();
  const std::vector<std::string> again = symbols.frames(self, stack);  // the dead helper's request fails...
  const std::vector<std::string> third = symbols.frames(self, stack);  // ...or a new one answers at once
  CHECK((contains(again[0], "symbolizer_test_marker") || contains(third[0], "symbolizer_test_marker")));
  CHECK(symbols.helper_pid() != helper);
  CHECK(symbols.helper_pid() > 0);
}

TEST_CASE("a process that is gone, or no helper, leaves addresses", "[bpf][symbolizer]") {
  sockleak::Symbolizer missing("/nonexistent/sockleak");
  const sockleak::ProcessKey self{static_cast<uint32_t>(getpid()), 1};
  const std::vector<std::string> frames = missing.frames(self, {0x401000, 0x402000});
  CHECK(frames == std::vector<std::string>{"0x401000", "0x402000"});
  CHECK(contains(missing.helper_status(), "no helper"));
  sockleak::Symbolizer symbols(SOCKLEAK_BIN);
  CHECK(symbols.frames({0, 0}, {0x401000}) == std::vector<std::string>{"0x401000"});
}
