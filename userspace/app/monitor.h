// The run loop (`sockleak run`) and the one-shot report (`sockleak snapshot`).
#pragma once

#include "app/options.h"

namespace sockleak {

// Return the process exit code; throw Error for failures with their own code.
// argv is kept so SIGHUP can re-parse the command line and re-read --config.
int run_monitor(const Options& options, int argc, const char* const* argv);
int run_snapshot(const Options& options);
// `sockleak explain PID`: exit 0 when nothing lingers, 1 when something does, 2 no such process.
int run_explain(const Options& options);

}  // namespace sockleak
