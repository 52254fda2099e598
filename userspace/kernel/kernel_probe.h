// Fills KernelFeatures by loading the smallest tracing program that needs each feature.
#pragma once

#include "core/kernel_features.h"

namespace sockleak {

// Probes every feature. Throws Error(kExitUnsupported) only when probing itself is refused
// (missing privileges); missing features, BTF included, are recorded.
KernelFeatures probe_kernel(const ProbeOptions& options);

}  // namespace sockleak
