// Container, pod and service identity from /proc/PID/cgroup as each runtime lays it out.
#include <algorithm>
#include <string>

#include <catch2/catch.hpp>

#include "core/workload_identity.h"

using sockleak::identity_from_cgroup;
using sockleak::names_from_container_log;

namespace {

const std::string kId = "cb009a10caef81cd9f42c0f87eb8902c0f631ba2a36862935396b99f10093d3d";
const std::string kUid = "1b2c3d4e-1111-2222-3333-444455556666";

}  // namespace

TEST_CASE("podman on cgroup v1 with cgroupfs, and on v2 with systemd", "[identity]") {
  const auto v1 = identity_from_cgroup("9:name=systemd:/libpod_parent/libpod-" + kId + "\n4:memory:/libpod_parent/libpod-" +
                                       kId + "\n0::/libpod_parent/libpod-" + kId + "\n");
  CHECK(v1.container_id == kId);
  CHECK(v1.container_runtime == "podman");
  CHECK(v1.systemd_unit.empty());
  const auto v2 = identity_from_cgroup("0::/machine.slice/libpod-" + kId + ".scope/container\n");
  CHECK(v2.container_id == kId);
  CHECK(v2.container_runtime == "podman");
  CHECK(identity_from_cgroup("0::/machine.slice/libpod-conmon-" + kId + ".scope\n").container_id.empty());
}

TEST_CASE("docker with systemd and with cgroupfs", "[identity]") {
  const auto scope = identity_from_cgroup("0::/system.slice/docker-" + kId + ".scope\n");
  CHECK(scope.container_id == kId);
  CHECK(scope.container_runtime == "docker");
  const auto plain = identity_from_cgroup("12:memory:/docker/" + kId + "\n11:cpu,cpuacct:/docker/" + kId + "\n");
  CHECK(plain.container_id == kId);
  CHECK(plain.container_runtime == "docker");
}

TEST_CASE("Kubernetes pods: containerd and CRI-O, systemd and cgroupfs drivers", "[identity]") {
  std::string underscored = kUid;
  std::replace(underscored.begin(), underscored.end(), '-', '_');
  const auto containerd = identity_from_cgroup("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" +
                                               underscored + ".slice/cri-containerd-" + kId + ".scope\n");
  CHECK(containerd.container_id == kId);
  CHECK(containerd.container_runtime == "containerd");
  CHECK(containerd.pod_uid == kUid);
  const auto crio = identity_from_cgroup("0::/kubepods.slice/kubepods-pod" + underscored + ".slice/crio-" + kId +
                                         ".scope\n");
  CHECK(crio.container_runtime == "cri-o");
  CHECK(crio.pod_uid == kUid);
  const auto cgroupfs = identity_from_cgroup("0::/kubepods/burstable/pod" + kUid + "/" + kId + "\n");
  CHECK(cgroupfs.container_id == kId);
  CHECK(cgroupfs.container_runtime.empty());
  CHECK(cgroupfs.pod_uid == kUid);
}

TEST_CASE("a path relative to another cgroup namespace names the container the same", "[identity]") {
  const auto sidecar_view = identity_from_cgroup("0::/../cri-containerd-" + kId + ".scope\n");
  CHECK(sidecar_view.container_id == kId);
  CHECK(identity_from_cgroup("0::/\n") == sockleak::WorkloadIdentity{});
}

TEST_CASE("a host service is its systemd unit; no container, no unit for a login session", "[identity]") {
  const auto service = identity_from_cgroup("0::/system.slice/nginx.service\n");
  CHECK(service.container_id.empty());
  CHECK(service.systemd_unit == "nginx.service");
  CHECK(identity_from_cgroup("0::/user.slice/user-0.slice/session-3.scope\n").systemd_unit.empty());
  CHECK(identity_from_cgroup("garbage without colons\n\n1:x\n") == sockleak::WorkloadIdentity{});
}

TEST_CASE("the kubelet's container log link names pod, namespace and container", "[identity]") {
  const auto names = names_from_container_log("web-7d4b9_shop_nginx-" + kId + ".log", kId);
  REQUIRE(names);
  CHECK(names->pod_name == "web-7d4b9");
  CHECK(names->pod_namespace == "shop");
  CHECK(names->container_name == "nginx");
  CHECK_FALSE(names_from_container_log("web-7d4b9_shop_nginx-" + kId + ".log", std::string(64, 'a')));
  CHECK_FALSE(names_from_container_log("nounderscores-" + kId + ".log", kId));
}
