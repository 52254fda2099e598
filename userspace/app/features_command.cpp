#include "app/features_command.h"

#include <cstdio>

#include "core/error.h"
#include "kernel/bpf_monitor.h"
#include "kernel/kernel_probe.h"
#include "kernel/symbolizer.h"
#include "output/features_page.h"

namespace sockleak {

int run_features(const Options& options) {
  FeaturesReport report;
  report.kernel = probe_kernel({options.btf_path, options.disabled_features, options.verbose});
  try {
    // Every program, call-site and syscall hooks included, so a verifier refusal shows here.
    BpfSettings settings;
    settings.verbose = options.verbose;
    settings.stack_sample = 1;
    settings.watch_tree = true;  // exec's fork hook too
    settings.btf_path = options.btf_path;
    settings.features = report.kernel;
    BpfMonitor bpf(settings);
    report.tick_rate = bpf.tick_rate();
  } catch (const Error& e) {
    report.load_error = e.what();
  }
  report.symbolizer = Symbolizer().helper_status();
  const std::string page = options.format == Format::kJson ? features_json(report).dump(-1, ' ', false,
                                                                                         nlohmann::json::error_handler_t::replace) + "\n"
                                                           : features_text(report);
  std::fputs(page.c_str(), stdout);
  return report.supported() ? kExitOk : kExitUnsupported;
}

}  // namespace sockleak
