// sockleak entry point: parse, dispatch, map every failure to a documented exit code.
#include <cstdio>
#include <exception>

#include "app/exec_command.h"
#include "app/features_command.h"
#include "app/monitor.h"
#include "app/options.h"
#include "core/error.h"

int main(int argc, char** argv) {
  using namespace sockleak;
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
