#include "core/workload_identity.h"

#include <algorithm>
#include <array>
#include <utility>
#include <vector>

namespace sockleak {
namespace {

bool is_container_id(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool strip_prefix(std::string_view& s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) != prefix) return false;
  s.remove_prefix(prefix.size());
  return true;
}

bool strip_suffix(std::string_view& s, std::string_view suffix) {
  if (s.size() < suffix.size() || s.substr(s.size() - suffix.size()) != suffix) return false;
  s.remove_suffix(suffix.size());
  return true;
}

std::vector<std::string_view> components(std::string_view path) {
  std::vector<std::string_view> parts;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    if (!part.empty() && part != "." && part != "..") parts.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

// A path component naming a container: its id and runtime.
std::optional<std::pair<std::string, std::string>> container_of(std::string_view part, bool under_runtime_dir) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kScopes = {{
      {"docker-", "docker"},
      {"cri-containerd-", "containerd"},
      {"crio-", "cri-o"},
      {"libpod-", "podman"},
  }};
  if (part.find("conmon") != std::string_view::npos) return std::nullopt;  // podman's monitor, not the container
  for (const auto& [prefix, runtime] : kScopes) {
    std::string_view id = part;
    if (!strip_prefix(id, prefix)) continue;
    strip_suffix(id, ".scope");
    if (is_container_id(id)) return std::make_pair(std::string(id), std::string(runtime));
  }
  if (under_runtime_dir && is_container_id(part)) return std::make_pair(std::string(part), std::string());
  return std::nullopt;
}

std::optional<std::string> pod_uid_of(std::string_view part) {
  std::string_view uid = part;
  if (strip_suffix(uid, ".slice")) {  // systemd driver: kubepods-besteffort-pod<uid with _>.slice
    const size_t at = uid.rfind("-pod");
    if (at == std::string_view::npos) return std::nullopt;
    std::string out(uid.substr(at + 4));
    std::replace(out.begin(), out.end(), '_', '-');
    return out;
  }
  if (strip_prefix(uid, "pod") && uid.size() == 36) return std::string(uid);  // cgroupfs driver: pod<uid>
  return std::nullopt;
}

}  // namespace

WorkloadIdentity identity_from_cgroup(std::string_view proc_cgroup) {
  WorkloadIdentity id;
  std::string unit;
  while (!proc_cgroup.empty()) {
    const size_t end = proc_cgroup.find('\n');
    std::string_view line = proc_cgroup.substr(0, end);
    proc_cgroup.remove_prefix(end == std::string_view::npos ? proc_cgroup.size() : end + 1);
    // hierarchy-ID:controllers:path
    const size_t first = line.find(':');
    const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::vector<std::string_view> parts = components(line.substr(second + 1));
    bool under_runtime_dir = false;
    for (std::string_view part : parts) {
      if (auto found = container_of(part, under_runtime_dir)) {
        id.container_id = found->first;
        if (!found->second.empty()) id.container_runtime = found->second;
      }
      if (auto uid = pod_uid_of(part)) id.pod_uid = *uid;
      if (part == "docker") {
        under_runtime_dir = true;
        id.container_runtime = "docker";
      }
      if (part.rfind("kubepods", 0) == 0 || part.rfind("pod", 0) == 0) under_runtime_dir = true;
      std::string_view service = part;
      if (strip_suffix(service, ".service") && !service.empty()) unit = std::string(part);
    }
  }
  if (id.container_id.empty()) {
    id.container_runtime.clear();
    id.systemd_unit = unit;
  }
  return id;
}

std::optional<KubernetesNames> names_from_container_log(std::string_view file_name, std::string_view container_id) {
  std::string_view rest = file_name;
  if (container_id.empty() || !strip_suffix(rest, ".log") || !strip_suffix(rest, container_id) ||
      !strip_suffix(rest, "-")) {
    return std::nullopt;
  }
  // POD_NAMESPACE_CONTAINER: pod names and namespaces have no '_' (DNS labels).
  const size_t first = rest.find('_');
  const size_t second = first == std::string_view::npos ? first : rest.find('_', first + 1);
  if (second == std::string_view::npos || first == 0 || second == first + 1 || second + 1 == rest.size()) {
    return std::nullopt;
  }
  return KubernetesNames{std::string(rest.substr(first + 1, second - first - 1)), std::string(rest.substr(0, first)),
                         std::string(rest.substr(second + 1))};
}

}  // namespace sockleak
