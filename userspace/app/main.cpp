// sockleak entry point: parse, dispatch, map every failure to a documented exit code.
#include <cstdio>
#include <exception>

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
    return parsed.options->command == Command::kRun ? run_monitor(*parsed.options, argc, argv)
                                                    : run_snapshot(*parsed.options);
  } catch (const Error& e) {
    std::fprintf(stderr, "sockleak: %s\n", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sockleak: unexpected failure: %s\n", e.what());
    return kExitRuntime;
  }
}
