// `sockleak features`: what the kernel offers, the path sockleak takes for each need and
// what it costs, and whether the whole BPF object loads here. Text for people, JSON for
// bug reports and fleet inventories.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/kernel_features.h"
#include "core/tick_rate.h"

namespace sockleak {

struct FeaturesReport {
  KernelFeatures kernel;
  std::optional<TickRate> tick_rate;  // measured once the object loaded
  std::string load_error;             // empty: every program loaded and attached
  std::string symbolizer;             // the call-site symbolizer helper's confinement, as it reports it
  bool supported() const { return load_error.empty() && !kernel.first_missing_required(); }
};

std::string features_text(const FeaturesReport& report);
nlohmann::ordered_json features_json(const FeaturesReport& report);

}  // namespace sockleak
