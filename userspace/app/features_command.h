// `sockleak features`: probe the kernel, load the whole BPF object once, print the page.
#pragma once

#include "app/options.h"

namespace sockleak {

// 0 when sockleak can run on this kernel, 77 when it cannot (the page says why).
int run_features(const Options& options);

}  // namespace sockleak
