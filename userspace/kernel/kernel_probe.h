// Fills KernelFeatures by loading the smallest tracing program that needs each feature.
#pragma once

#include <optional>
#include <string>

#include "core/btf_types.h"
#include "core/kernel_features.h"

namespace sockleak {

// Probes every feature. Throws Error(kExitUnsupported) only when probing itself is refused
// (missing privileges); missing features, BTF included, are recorded.
KernelFeatures probe_kernel(const ProbeOptions& options);

// The running kernel's BTF (/sys/kernel/btf/vmlinux), mapped where sysfs allows it (6.16+),
// else read whole, for the probes' lookups; nullopt with *error naming the file and the reason.
std::optional<BtfTypes> load_kernel_types(std::string* error);

}  // namespace sockleak
