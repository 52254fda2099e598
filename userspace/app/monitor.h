// The run loop (`sockleak run`) and the one-shot report (`sockleak snapshot`).
#pragma once

#include "app/options.h"

namespace sockleak {

// Returns the process exit code; throws Error for failures with their own code.
int run_monitor(const Options& options);
int run_snapshot(const Options& options);

}  // namespace sockleak
