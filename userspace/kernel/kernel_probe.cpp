#include "kernel/kernel_probe.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "core/btf_types.h"
#include "core/error.h"
#include "kernel/libbpf_log.h"
#include "kernel/unique_fd.h"

namespace sockleak {
namespace {

constexpr const char* kSysfsBtf = "/sys/kernel/btf/vmlinux";

// Minimal instruction builders for the probes (uapi has the opcodes, not the macros).
bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn mov_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn load_u64(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_MEM | BPF_DW, dst, src, off, 0); }
bpf_insn skip_if_zero(uint8_t reg, int16_t count) { return insn(BPF_JMP | BPF_JEQ | BPF_K, reg, 0, count, 0); }
bpf_insn call(int32_t helper) { return insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

struct BtfDeleter {
  void operator()(btf* b) const { btf__free(b); }
};

struct Probe {
  Feature feature;
  const char* target;       // BTF name of the attach point
  __u32 target_kind;        // BTF_KIND_TYPEDEF (tracepoint) or BTF_KIND_FUNC (iterator)
  bpf_attach_type attach;   // BPF_TRACE_RAW_TP or BPF_TRACE_ITER
  std::vector<bpf_insn> insns;
};

// Each probe is the smallest tracing program that needs the feature: the kernel either
// loads it or names what it lacks in the verifier log.
std::vector<Probe> probes(const BtfTypes& types) {
  const std::vector<bpf_insn> nothing = {mov_imm(BPF_REG_0, 0), exit_insn()};
  const int sock_sk = types.member_offset("socket", "sk");
  return {
      {Feature::kStateTracepoint, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP, nothing},
      {Feature::kTaskFileIterator, "bpf_iter_task_file", BTF_KIND_FUNC, BPF_TRACE_ITER, nothing},
      {Feature::kMapElemIterator, "bpf_iter_bpf_map_elem", BTF_KIND_FUNC, BPF_TRACE_ITER, nothing},
      {Feature::kSyscallTracepoints, "btf_trace_sys_enter", BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP, nothing},
      // bpf_get_socket_cookie(sk), sk the tracepoint's first argument.
      {Feature::kSocketCookie, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF, BPF_TRACE_RAW_TP,
       {load_u64(BPF_REG_1, BPF_REG_1, 0), call(BPF_FUNC_get_socket_cookie), mov_imm(BPF_REG_0, 0), exit_insn()}},
      // bpf_sock_from_file(ctx->file); file sits after meta, task and fd (offset 24), may be NULL.
      {Feature::kSockFromFile, "bpf_iter_task_file", BTF_KIND_FUNC, BPF_TRACE_ITER,
       {load_u64(BPF_REG_1, BPF_REG_1, 24), skip_if_zero(BPF_REG_1, 1), call(BPF_FUNC_sock_from_file),
        mov_imm(BPF_REG_0, 0), exit_insn()}},
      // bpf_get_socket_cookie(bpf_sock_from_file(ctx->file)->sk): reconciles name the sockets
      // they find in files by cookie. Some kernels mark a pointer read from the socket
      // untrusted, which the cookie helper refuses: sockets are then named by address.
      {Feature::kSocketCookie, "bpf_iter_task_file", BTF_KIND_FUNC, BPF_TRACE_ITER,
       {load_u64(BPF_REG_1, BPF_REG_1, 24), skip_if_zero(BPF_REG_1, 5), call(BPF_FUNC_sock_from_file),
        skip_if_zero(BPF_REG_0, 3), load_u64(BPF_REG_1, BPF_REG_0, static_cast<int16_t>(sock_sk)),
        skip_if_zero(BPF_REG_1, 1), call(BPF_FUNC_get_socket_cookie), mov_imm(BPF_REG_0, 0), exit_insn()}},
  };
}

// Loads one probe; "" when the kernel took it, else the reason (errno and the verifier's
// last line). The plain state-tracepoint probe refused means we may not load tracing
// programs at all: not a missing feature but missing privileges, and throws.
std::string try_probe(const Probe& probe, const BtfTypes& types, bool verbose) {
  const int id = types.find(probe.target, probe.target_kind);
  if (id < 0) return std::string("the kernel has no ") + probe.target;
  std::vector<char> log(64 * 1024);
  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  opts.expected_attach_type = probe.attach;
  opts.attach_btf_id = static_cast<__u32>(id);
  opts.log_buf = log.data();
  opts.log_size = static_cast<__u32>(log.size());
  opts.log_level = 1;
  UniqueFd fd(bpf_prog_load(BPF_PROG_TYPE_TRACING, "sl_probe", "GPL", probe.insns.data(), probe.insns.size(), &opts));
  if (fd.valid()) return "";
  const int err = errno;
  // EPERM or EACCES for the plain state-tracepoint probe: tracing programs refused outright.
  // EACCES is also the verifier's word for a program it rejects; EPERM for another probe is
  // a policy against that one attach point (seen: map-element iterators refused while other
  // iterators load), a missing feature with its fallback.
  const bool plain = probe.feature == Feature::kStateTracepoint && probe.insns.size() == 2;
  if (plain && (err == EPERM || err == EACCES)) {
    throw Error(std::string("load a probe program (") + probe.target + "): " + std::strerror(err) +
                    " — the kernel refused tracing programs: missing CAP_BPF/CAP_PERFMON, lockdown, or a "
                    "seccomp filter that denies bpf() (a container runtime's default: run seccomp unconfined)",
                kExitUnsupported);
  }
  std::string why = std::strerror(err);
  if (err == EPERM) return why + ": refused by the kernel's policy (lockdown or an LSM)";
  std::string text(log.data());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  if (verbose && !text.empty()) std::fprintf(stderr, "sockleak: probe %s: %s\n", probe.target, text.c_str());
  // The verdict is the last line before the verifier's statistics ("processed N insns").
  for (;;) {
    const size_t nl = text.rfind('\n');
    std::string last = nl == std::string::npos ? text : text.substr(nl + 1);
    if (last.rfind("processed ", 0) != 0 || nl == std::string::npos) {
      text = last;
      break;
    }
    text.resize(nl);
  }
  if (!text.empty()) why += ": " + text;
  return why;
}

std::string kernel_release() {
  utsname u{};
  return uname(&u) == 0 ? u.release : "unknown";
}

}  // namespace

std::optional<BtfTypes> load_kernel_types(std::string* error) {
  auto failed = [error](int err) {
    *error = std::string(kSysfsBtf) + ": " + std::strerror(err);
    return std::optional<BtfTypes>();
  };
  UniqueFd fd(::open(kSysfsBtf, O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) return failed(errno);
  auto parsed = [error](std::optional<BtfTypes> types) {
    if (!types) *error = std::string(kSysfsBtf) + ": " + *error;
    return types;
  };
  // Mapped where the kernel allows it (6.16+): no copy of its 5-6 MB.
  const auto size = static_cast<size_t>(st.st_size);
  if (size > 0) {
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (map != MAP_FAILED) {
      std::shared_ptr<const void> owner(map, [size](const void* p) { ::munmap(const_cast<void*>(p), size); });
      return parsed(BtfTypes::parse(std::span<const char>(static_cast<const char*>(map), size), owner, error));
    }
  }
  // Else read whole (sysfs states the size; 0 just means unknown).
  std::vector<char> blob(size > 0 ? size + 1 : size_t{1} << 20);
  size_t used = 0;
  for (;;) {
    if (used == blob.size()) blob.resize(blob.size() * 2);
    const ssize_t n = ::read(fd.get(), blob.data() + used, blob.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(errno);
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  blob.resize(used);
  return parsed(BtfTypes::parse(std::move(blob), error));
}

KernelFeatures probe_kernel(const ProbeOptions& options) {
  route_libbpf_log(options.verbose);
  KernelFeatures k;
  k.probed = true;
  k.release = kernel_release();
  auto set = [&k](Feature f, bool on, const std::string& why = "") {
    k.available[static_cast<size_t>(f)] = on;
    k.detail[static_cast<size_t>(f)] = why;
  };

  k.btf_path = options.btf_path.empty() ? kSysfsBtf : options.btf_path;
  // Attach points are the running kernel's type ids: always from its own BTF. A --btf
  // file serves CO-RE field offsets only; it must parse.
  // The probes' few lookups read the blob as it is: libbpf's whole parse of it (which the
  // object's load does again, for CO-RE) took a tenth of a `snapshot` at 100k sockets.
  std::string types_error;
  std::optional<BtfTypes> types = load_kernel_types(&types_error);
  if (!types) {
    // Where sysfs has none (not mounted in a container), libbpf also finds the kernel's
    // BTF in /boot or /lib/modules: the blob it read, as the probes read it.
    const QuietLibbpf quiet;
    const std::unique_ptr<btf, BtfDeleter> found(btf__load_vmlinux_btf());
    __u32 size = 0;
    const void* raw = found ? btf__raw_data(found.get(), &size) : nullptr;
    std::string why;
    if (raw != nullptr) {
      const auto* bytes = static_cast<const char*>(raw);
      types = BtfTypes::parse(std::vector<char>(bytes, bytes + size), &why);
      if (!types) types_error += "; libbpf's vmlinux BTF: " + why;
    }
  }
  std::unique_ptr<btf, BtfDeleter> supplied;
  if (!options.btf_path.empty()) {
    const QuietLibbpf quiet;  // a failure is reported below, in sockleak's words
    supplied.reset(btf__parse(options.btf_path.c_str(), nullptr));
  }
  // Without usable BTF nothing else can be probed: every feature is recorded as such.
  auto without_btf = [&](const std::string& why) {
    for (const FeatureInfo& info : feature_table()) set(info.feature, false, "not probed: no BTF");
    set(Feature::kBtf, false, why);
    return k;
  };
  if (!options.btf_path.empty() && !supplied) return without_btf(options.btf_path + ": " + libbpf_error_text(errno));
  if (!types) {
    return without_btf(types_error +
                       (options.btf_path.empty() ? ""
                                                 : " (the running kernel's own BTF is still needed: libbpf attaches "
                                                   "by its type ids; mount sysfs, read-only is enough)"));
  }
  set(Feature::kBtf, true);
  const bool ring_buffer = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, nullptr) == 1;
  set(Feature::kRingBuffer, ring_buffer, ring_buffer ? "" : "BPF_MAP_TYPE_RINGBUF refused");
  // A feature --disable-feature names is recorded as such, and not probed.
  auto disabled = [&](Feature f) {
    if (!options.disabled.contains(f)) return false;
    set(f, false, "disabled by --disable-feature");
    return true;
  };
  for (const Probe& probe : probes(*types)) {
    if (disabled(probe.feature)) continue;
    // A feature with two probes needs both: the first failure is its reason.
    if (!k.detail[static_cast<size_t>(probe.feature)].empty()) continue;
    const std::string why = try_probe(probe, *types, options.verbose);
    set(probe.feature, why.empty(), why);
  }
  // bpf_loop() is a base helper: any program type tells; libbpf reads the verifier's verdict.
  if (!disabled(Feature::kBpfLoop)) {
    const bool loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCKET_FILTER, BPF_FUNC_loop, nullptr) == 1;
    set(Feature::kBpfLoop, loop, loop ? "" : "the kernel has no bpf_loop()");
  }
  // bpf_for_each_map_elem() in a raw tracepoint program, the kind sockleak runs on demand.
  if (!disabled(Feature::kMapWalkHelper)) {
    const bool walk = libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_for_each_map_elem, nullptr) == 1;
    set(Feature::kMapWalkHelper, walk, walk ? "" : "the kernel has no bpf_for_each_map_elem()");
  }
  // Task iterators take a process to walk where the kernel's link parameters have a task
  // member (6.1): the kernel's own BTF says so, with no attach to try.
  if (!disabled(Feature::kProcessFileWalk)) {
    const bool one = types->member_offset("bpf_iter_link_info", "task") >= 0;
    set(Feature::kProcessFileWalk, one, one ? "" : "the kernel's task iterators walk every process (no bpf_iter_link_info.task)");
  }
  // Cookies are asked for with the typed socket that bpf_sock_from_file() returns.
  if (k.has(Feature::kSocketCookie) && !k.has(Feature::kSockFromFile)) {
    set(Feature::kSocketCookie, false, "needs sock_from_file");
  }
  return k;
}

}  // namespace sockleak
