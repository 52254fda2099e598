// KernelFeatures: what the running kernel offers sockleak, as a record. It is filled once
// at start-up by kernel/kernel_probe.cpp (tiny probe programs, never version numbers or the
// kernel config file); the loader and the `features` command read it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace sockleak {

enum class Feature {
  kBtf,                 // kernel BTF: typed tracepoints and iterators attach by its ids
  kStateTracepoint,     // tp_btf/inet_sock_set_state
  kRingBuffer,          // BPF_MAP_TYPE_RINGBUF
  kTaskFileIterator,    // iter/task_file
  kMapElemIterator,     // iter/bpf_map_elem
  kSyscallTracepoints,  // tp_btf/sys_enter
  kSocketCookie,        // bpf_get_socket_cookie() in tracing programs
  kSockFromFile,        // bpf_sock_from_file()
  kBpfLoop,             // bpf_loop()
  kMapWalkHelper,       // bpf_for_each_map_elem() in a program run on demand
  kProcessFileWalk,     // iter/task_file restricted to one process
};
inline constexpr size_t kFeatureCount = 11;

// What a feature is for, the first mainline kernel with it, and, for optional ones, what
// sockleak does without it and what that costs.
struct FeatureInfo {
  Feature feature;
  std::string_view name;          // stable, for `features --format json` and --disable-feature
  std::string_view description;
  std::string_view first_kernel;  // mainline release that added it
  std::string_view need;          // what sockleak uses it for
  std::string_view fallback;      // empty: required
  std::string_view fallback_cost;
};
const std::array<FeatureInfo, kFeatureCount>& feature_table();
const FeatureInfo& feature_info(Feature feature);
std::optional<Feature> feature_named(std::string_view name);

struct ProbeOptions {
  std::string btf_path;           // --btf FILE; empty: the running kernel's /sys/kernel/btf/vmlinux
  std::set<Feature> disabled;     // --disable-feature: take the fallback even where offered
  bool verbose = false;           // verifier logs of failed probes to stderr
};

struct KernelFeatures {
  bool probed = false;
  std::string release;            // uname -r
  std::string btf_path;           // where the types came from
  std::array<bool, kFeatureCount> available{};
  std::array<std::string, kFeatureCount> detail{};  // why not, when not ("disabled by ...")

  bool has(Feature f) const { return available[static_cast<size_t>(f)]; }
  // The required feature this kernel lacks, if any (the first in table order). Scans need
  // one of two ways to walk the socket map: iter/bpf_map_elem, or bpf_for_each_map_elem().
  std::optional<Feature> first_missing_required() const;
};

// Throws Error(kExitUnsupported) naming the first missing required feature and the first
// kernel that has it.
void require_supported(const KernelFeatures& features);

}  // namespace sockleak
