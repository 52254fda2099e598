#include "podman.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "child_process.h"

namespace sockleak::test {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A private containers.conf: runc and cgroupfs, and no default ulimits (setting them needs
// CAP_SYS_RESOURCE in the runtime, which this host withholds).
const std::string& config_file() {
  static const std::string path = [] {
    const std::string dir = make_temp_dir();
    std::ofstream(dir + "/containers.conf") << "[containers]\ndefault_ulimits = []\n"
                                               "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n"
                                               "events_logger = \"file\"\n";
    return dir + "/containers.conf";
  }();
  return path;
}

std::string source_root() { return std::filesystem::path(SOCKLEAK_SOURCE_DIR).string(); }

}  // namespace

std::vector<std::string> Podman::command(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/env", "CONTAINERS_CONF=" + config_file(), "podman"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string Podman::run(const std::vector<std::string>& args) {
  ChildProcess p(command(args));
  std::string out;
  while (auto line = p.read_line(std::chrono::seconds(120))) out += *line + "\n";
  const auto status = p.wait(std::chrono::seconds(120));
  if (status != 0) {
    std::string joined;
    for (const std::string& a : args) joined += " " + a;
    throw std::runtime_error("podman" + joined + " failed (" + std::to_string(status.value_or(-1)) + "): " + out);
  }
  return out;
}

const std::string& Podman::sockleak_image() {
  static const std::string name = [] {
    const std::string out = run_command({"/usr/bin/env", "SOCKLEAK_IMAGE_BINARY=" SOCKLEAK_BIN,
                                         "CONTAINERS_CONF=" + config_file(), source_root() + "/scripts/image.sh",
                                         "localhost/sockleak:test"});
    const std::string last = trim(out.substr(out.rfind('\n', out.size() - 2) + 1));
    if (last != "localhost/sockleak:test") throw std::runtime_error("scripts/image.sh printed: " + out);
    return last;
  }();
  return name;
}

const std::string& Podman::app_image() {
  static const std::string name = [] {
    const std::string dir = make_temp_dir();
    run_command({source_root() + "/scripts/oci-rootfs.sh", dir + "/rootfs", HTTP_CLIENT_BIN, HTTP_SERVER_BIN,
                 "/bin/busybox"});
    std::ofstream(dir + "/Containerfile") << "FROM scratch\nCOPY rootfs/ /\n";
    run({"build", "--quiet", "--network=none", "--pull=never", "-t", "localhost/sockleak-test-app:latest", "-f",
         dir + "/Containerfile", dir});
    std::filesystem::remove_all(dir);
    return std::string("localhost/sockleak-test-app:latest");
  }();
  return name;
}

std::vector<std::string> Podman::sockleak_privileges() {
  // The sanitizer suite's options reach a sanitizer build inside too (unset: nothing passed).
  return {"--cap-drop=all", "--cap-add=BPF,PERFMON,SYS_PTRACE,DAC_READ_SEARCH,CHECKPOINT_RESTORE",
          "--security-opt", "seccomp=unconfined", "--env", "ASAN_OPTIONS", "--env", "UBSAN_OPTIONS"};
}

Container::Container(const std::string& name, const std::vector<std::string>& run_args) : name_(name) {
  Podman::run({"rm", "-f", "--ignore", name});  // left by an interrupted run
  std::vector<std::string> args{"run", "-d", "--name", name};
  args.insert(args.end(), run_args.begin(), run_args.end());
  id_ = trim(Podman::run(args));
}

Container::~Container() {
  try {
    Podman::run({"rm", "-f", "-t", "0", name_});
  } catch (...) {
  }
}

int Container::host_pid() const { return std::stoi(trim(Podman::run({"inspect", "-f", "{{.State.Pid}}", name_}))); }

}  // namespace sockleak::test
