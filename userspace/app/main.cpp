// sockleak entry point: parse, dispatch, map every failure to a documented exit code.
#include <malloc.h>

#include <cstdio>
#include <exception>
#include <string_view>

#include "app/exec_command.h"
#include "app/features_command.h"
#include "app/monitor.h"
#include "app/options.h"
#include "core/error.h"
#include "symbolize/helper.h"

int main(int argc, char** argv) {
  using namespace sockleak;
  // One malloc arena for every thread: a second arena holding part of a 100k-socket table
  // (built by the scan ring's drainer while the main thread waits in the kernel) cost 2 MB
  // of RSS in free pages. The other threads (metrics server, alert pusher) allocate a
  // little per report.
  mallopt(M_ARENA_MAX, 1);
  // The sandboxed call-site symbolizer, started by sockleak itself (not a user command).
  if (argc == 2 && std::string_view(argv[1]) == kSymbolizerCommand) return run_symbolizer_helper(kSymbolizerChannel);
  const ParseOutcome parsed = parse_options(argc, argv);
  if (!parsed.options) {
    std::fputs(parsed.output.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  try {
    switch (parsed.options->command) {
      case Command::kRun: return run_monitor(*parsed.options, argc, argv);
      case Command::kSnapshot: return run_snapshot(*parsed.options);
      case Command::kExplain: return run_explain(*parsed.options);
      case Command::kFeatures: return run_features(*parsed.options);
      case Command::kExec: return run_exec(*parsed.options);
    }
    return kExitRuntime;
  } catch (const Error& e) {
    std::fprintf(stderr, "sockleak: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sockleak: unexpected failure: %s\n", e.what());
    return kExitRuntime;
  }
}
