// Real containers for the root tier: podman with runc and cgroupfs (crun fails on this
// host's hybrid cgroup layout), configured by a private containers.conf, never the host's.
// Images are built offline from FROM scratch, once per test process.
#pragma once

#include <string>
#include <vector>

namespace sockleak::test {

class Podman {
 public:
  // The sockleak image (scripts/image.sh packaging SOCKLEAK_BIN) and an application image
  // holding the loopback test helpers and busybox.
  static const std::string& sockleak_image();
  static const std::string& app_image();

  // `podman ARGS...` with the private configuration; returns stdout. Throws on failure.
  static std::string run(const std::vector<std::string>& args);
  // The argv prefix for a podman child process (ChildProcess) with the private configuration.
  static std::vector<std::string> command(const std::vector<std::string>& args);
  // What the sockleak container needs: capabilities only, and bpf() past the default seccomp filter.
  static std::vector<std::string> sockleak_privileges();
};

// A detached container, removed (podman rm -f) when this goes out of scope.
class Container {
 public:
  Container(const std::string& name, const std::vector<std::string>& run_args);
  ~Container();
  Container(const Container&) = delete;
  Container& operator=(const Container&) = delete;
  const std::string& name() const { return name_; }
  const std::string& id() const { return id_; }
  int host_pid() const;  // its first process, as the host sees it

 private:
  std::string name_;
  std::string id_;
};

}  // namespace sockleak::test
