#include "core/kernel_features.h"

#include "core/error.h"
#include <string>

namespace sockleak {
namespace {

const std::array<FeatureInfo, kFeatureCount> kFeatures = {{
    {Feature::kBtf, "btf", "kernel BTF (CONFIG_DEBUG_INFO_BTF)", "5.4",
     "typed tracepoints and iterators attach by the running kernel's type ids; CO-RE field offsets", "", ""},
    {Feature::kStateTracepoint, "state_tracepoint", "tp_btf/inet_sock_set_state", "5.5",
     "every TCP state change (CLOSE_WAIT entry time, closes)", "", ""},
    {Feature::kRingBuffer, "ring_buffer", "BPF ring buffer", "5.8", "changes of reported sockets to userspace", "",
     ""},
    {Feature::kTaskFileIterator, "task_file_iterator", "iter/task_file", "5.8",
     "every process's sockets (holders, pre-existing sockets, reconciles)", "", ""},
    {Feature::kMapElemIterator, "map_elem_iterator", "iter/bpf_map_elem", "5.9",
     "scans of the socket map for what lingers",
     "the map is walked by bpf_for_each_map_elem() (map_walk_helper, 5.13+) in a program sockleak runs on demand, "
     "rows through a ring buffer",
     "a run cannot start mid-map, so scans of changes walk the whole map once every as many reports as slices "
     "would take (a burst instead of a slice), and a run a full ring stopped walks the map's head again when it "
     "resumes (a second thread drains the ring while a run fills it; 100k sockets: see scripts/bench.sh)"},
    {Feature::kSyscallTracepoints, "syscall_tracepoints", "tp_btf/sys_enter", "5.5",
     "close()/close_range() of shared lingering sockets as they happen",
     "holders are corrected at the next reconcile (--reconcile-interval)",
     "holder changes seen up to one reconcile interval late"},
    {Feature::kSocketCookie, "socket_cookie",
     "bpf_get_socket_cookie() in tracing programs, of the state tracepoint's socket and of sockets found in files",
     "5.12",
     "socket identity: the kernel's 64-bit socket cookie",
     "the struct sock address names the socket; a socket born at a reused address drops what the "
     "old one left",
     "a read of a 4,096-slot address filter per new TCP socket and per state change out of ESTABLISHED, "
     "and a hash lookup where its slot counts an entry of the map (cookies skip sockets never tracked)"},
    {Feature::kSockFromFile, "sock_from_file", "bpf_sock_from_file()", "5.11",
     "finding the socket behind each open file in reconciles",
     "the file's inode mode and the socket's pointer back to its file, read with probe reads (also turns "
     "socket_cookie off: cookies need the typed socket)",
     "about a third more time per reconcile (100k sockets: 262 ms against 198 ms)"},
    {Feature::kBpfLoop, "bpf_loop", "bpf_loop()", "5.17",
     "walking a listener's accept queue in reconciles, a loop the verifier checks once",
     "the walk is unrolled: the verifier checks each of its 1,024 steps",
     "about 40 ms more at every start (the verifier's work, once)"},
    {Feature::kMapWalkHelper, "map_walk_helper", "bpf_for_each_map_elem() in a program run on demand (BPF_PROG_RUN)",
     "5.13", "scans of the socket map where the kernel refuses map-element iterators",
     "scans by iter/bpf_map_elem (one of the two is needed)", "none while iter/bpf_map_elem loads"},
    {Feature::kProcessFileWalk, "process_file_walk", "iter/task_file of one process (bpf_iter_link_info.task)", "6.1",
     "re-reading, before each report, the fd tables of the processes that share a lingering socket (a close() "
     "by one of them changes the report without a state change)",
     "close() is watched by tp_btf/sys_enter while a lingering socket is shared",
     "every syscall on the host passes the hook meanwhile (nginx churn: 0.85-0.93 of its rate)"},
}};

}  // namespace

const std::array<FeatureInfo, kFeatureCount>& feature_table() { return kFeatures; }

const FeatureInfo& feature_info(Feature feature) { return kFeatures[static_cast<size_t>(feature)]; }

std::optional<Feature> feature_named(std::string_view name) {
  for (const FeatureInfo& info : kFeatures) {
    if (info.name == name) return info.feature;
  }
  return std::nullopt;
}

std::optional<Feature> KernelFeatures::first_missing_required() const {
  for (const FeatureInfo& info : kFeatures) {
    if (info.fallback.empty() && !has(info.feature)) return info.feature;
  }
  if (!has(Feature::kMapElemIterator) && !has(Feature::kMapWalkHelper)) return Feature::kMapElemIterator;
  return std::nullopt;
}

void require_supported(const KernelFeatures& k) {
  const std::optional<Feature> missing = k.first_missing_required();
  if (!missing) return;
  const FeatureInfo& info = feature_info(*missing);
  const std::string& why = k.detail[static_cast<size_t>(*missing)];
  std::string message;
  if (*missing == Feature::kBtf) {
    // Either the kernel has none or the file given has none: the detail says which.
    message = "no usable kernel BTF (" + why + "): typed tracepoints and iterators attach by the running kernel's " +
              "BTF, which kernels built with CONFIG_DEBUG_INFO_BTF (Linux 5.4+) publish at /sys/kernel/btf/vmlinux";
  } else {
    message = "this kernel (" + k.release + ") lacks " + std::string(info.description) + ", first in Linux " +
              std::string(info.first_kernel) + ", needed for " + std::string(info.need);
    if (!why.empty()) message += " [" + why + "]";
    if (*missing == Feature::kMapElemIterator) {
      const std::string& helper = k.detail[static_cast<size_t>(Feature::kMapWalkHelper)];
      message += ", and its fallback " + std::string(feature_info(Feature::kMapWalkHelper).description) +
                 ", first in Linux " + std::string(feature_info(Feature::kMapWalkHelper).first_kernel) +
                 (helper.empty() ? "" : " [" + helper + "]");
    }
  }
  message += "; sockleak needs Linux 5.10 or newer with BTF (see `sockleak features`)";
  throw Error(message, kExitUnsupported);
}

}  // namespace sockleak
