// `sockleak __symbolizer`: the sandboxed helper that names call sites. Started by
// kernel/symbolizer with its channel on fd 3; serves requests until sockleak closes it.
#pragma once

namespace sockleak {

inline constexpr const char* kSymbolizerCommand = "__symbolizer";
inline constexpr int kSymbolizerChannel = 3;

int run_symbolizer_helper(int channel);

}  // namespace sockleak
