#include "output/features_page.h"

#include <cstdio>

#include "output/json_records.h"

namespace sockleak {
namespace {

enum class Path { kNative, kFallback, kMissing };

Path path_of(const KernelFeatures& k, const FeatureInfo& info) {
  if (k.has(info.feature)) return Path::kNative;
  return info.fallback.empty() ? Path::kMissing : Path::kFallback;
}

const char* path_name(Path p) {
  switch (p) {
    case Path::kNative: return "native";
    case Path::kFallback: return "fallback";
    case Path::kMissing: return "missing";
  }
  return "missing";
}

std::string tick_rate_text(const TickRate& rate) {
  char text[128];
  std::snprintf(text, sizeof text, "%u Hz (%s %.1f Hz at start-up; no kernel config file read)", rate.hz,
                rate.from_uptime ? "jiffies_64 against uptime:" : "tick edges timed:", rate.measured_hz);
  return text;
}

}  // namespace

std::string features_text(const FeaturesReport& r) {
  const KernelFeatures& k = r.kernel;
  std::string out = "kernel " + k.release + ", types from " + k.btf_path + "\n\n";
  for (const FeatureInfo& info : feature_table()) {
    const Path path = path_of(k, info);
    const std::string& detail = k.detail[static_cast<size_t>(info.feature)];
    out += "  " + std::string(info.name) + " — " + std::string(info.description) + " (Linux " +
           std::string(info.first_kernel) + "+)\n";
    out += "      need:  " + std::string(info.need) + "\n";
    switch (path) {
      case Path::kNative: out += "      path:  native\n"; break;
      case Path::kFallback:
        out += "      path:  fallback (" + detail + "): " + std::string(info.fallback) + "\n";
        out += "      cost:  " + std::string(info.fallback_cost) + "\n";
        break;
      case Path::kMissing: out += "      path:  MISSING (" + detail + ")\n"; break;
    }
  }
  out += "  tick_rate — kernel HZ, for idle times and CLOSE_WAIT lower bounds\n";
  out += "      path:  " + (r.tick_rate ? tick_rate_text(*r.tick_rate) : std::string("not measured")) + "\n";
  out += "  symbolizer — names call sites from other programs' files, in a sandboxed helper\n";
  out += "      path:  " + (r.symbolizer.empty() ? std::string("not started") : r.symbolizer) + "\n\n";
  if (r.supported()) {
    out += "sockleak runs here: every program loads and attaches.\n";
  } else {
    out += "sockleak cannot run here: " + r.load_error + "\n";
  }
  return out;
}

nlohmann::ordered_json features_json(const FeaturesReport& r) {
  const KernelFeatures& k = r.kernel;
  nlohmann::ordered_json features = nlohmann::ordered_json::array();
  for (const FeatureInfo& info : feature_table()) {
    const Path path = path_of(k, info);
    nlohmann::ordered_json f = {{"name", info.name},
                                {"description", info.description},
                                {"first_kernel", info.first_kernel},
                                {"available", k.has(info.feature)},
                                {"path", path_name(path)}};
    if (const std::string& detail = k.detail[static_cast<size_t>(info.feature)]; !detail.empty()) {
      f["detail"] = detail;
    }
    if (path == Path::kFallback) {
      f["fallback"] = info.fallback;
      f["cost"] = info.fallback_cost;
    }
    features.push_back(std::move(f));
  }
  nlohmann::ordered_json out = {{"schema", kSchema},
                                {"type", "features"},
                                {"kernel", {{"release", k.release}, {"btf", k.btf_path}}},
                                {"features", std::move(features)}};
  if (r.tick_rate) {
    out["tick_rate"] = {{"hz", r.tick_rate->hz},
                        {"measured_hz", r.tick_rate->measured_hz},
                        {"method", r.tick_rate->from_uptime ? "uptime" : "tick_edges"}};
  } else {
    out["tick_rate"] = nullptr;
  }
  out["symbolizer"] = r.symbolizer;
  out["supported"] = r.supported();
  if (!r.load_error.empty()) out["error"] = r.load_error;
  return out;
}

}  // namespace sockleak
