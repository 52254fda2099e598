// `sockleak exec [options] -- COMMAND [ARGS...]`: runs COMMAND watched by a session limited
// to its process tree and answers as COMMAND would, unless it leaked sockets.
#pragma once

#include "app/options.h"

namespace sockleak {

// COMMAND's exit status when it failed (a COMMAND killed by a signal kills sockleak with the
// same signal), else options.leak_exit_code when it leaked, else 0; 127/126 when COMMAND
// cannot be run. Throws Error for sockleak's own failures.
int run_exec(const Options& options);

}  // namespace sockleak
