// Who a process is beyond its pid: the container it runs in (from its cgroup path), the
// Kubernetes pod and names the node knows for it, or the systemd unit of a host service.
// Pure parsing: kernel/proc_reader reads /proc/PID/cgroup and the kubelet's log directory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sockleak {

struct WorkloadIdentity {
  std::string container_id;       // as the runtime names it (64 hex digits)
  std::string container_runtime;  // docker, containerd, cri-o, podman; empty when not told by the path
  std::string pod_uid;            // Kubernetes pod UID
  std::string pod_namespace;      // from the kubelet's log directories, when readable
  std::string pod_name;
  std::string container_name;
  std::string systemd_unit;       // host service (no container): e.g. nginx.service
  bool operator==(const WorkloadIdentity&) const = default;
};

// From the text of /proc/PID/cgroup (v1, v2 or hybrid): the deepest path component that
// names a container (docker-ID.scope, cri-containerd-ID.scope, crio-ID.scope,
// libpod-ID[.scope], or a bare 64-hex ID under docker/ or kubepods), the pod UID
// (podUID, or kubepods-QOS-podUID.slice with '_' for '-'), else a systemd *.service unit.
// Paths relative to another cgroup namespace ("/../...") parse the same.
WorkloadIdentity identity_from_cgroup(std::string_view proc_cgroup);

struct KubernetesNames {
  std::string pod_namespace;
  std::string pod_name;
  std::string container_name;
};

// The kubelet links each container's log as /var/log/containers/POD_NAMESPACE_CONTAINER-ID.log:
// the names in file_name when it is the log of container_id.
std::optional<KubernetesNames> names_from_container_log(std::string_view file_name, std::string_view container_id);

}  // namespace sockleak
