// Up-front checks so a missing capability or kernel feature is named, not guessed at.
#pragma once

#include <string>
#include <vector>

namespace sockleak {

// Throws Error(kExitUnsupported) naming every missing capability or feature.
// Returns warnings for things that only degrade output (e.g. /proc access; with
// call_sites, /proc/PID/map_files).
std::vector<std::string> check_privileges(bool call_sites);

}  // namespace sockleak
