#include "sockleak_run.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <stdexcept>

namespace sockleak::test {

SockleakRun::SockleakRun(std::vector<std::string> args)
    : child_([&] {
        args.insert(args.begin(), SOCKLEAK_BIN);
        return args;
      }()) {
  if (!wait_for([](const Record& r) { return r.value("type", "") == "stats"; }, std::chrono::seconds(30))) {
    throw std::runtime_error("sockleak did not start (no stats record within 30s)");
  }
}

std::optional<Record> SockleakRun::wait_for(const RecordPredicate& match, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    auto line = child_.read_line(left);
    if (!line) return std::nullopt;
    Record record = Record::parse(*line);
    seen_.push_back(record);
    if (match(record)) return record;
  }
  return std::nullopt;
}

void SockleakRun::read_for(std::chrono::milliseconds span) {
  wait_for([](const Record&) { return false; }, span);
}

bool is_linger(const Record& r, pid_t pid, const std::string& state) {
  return r.value("type", "") == "linger" && r["process"]["pid"] == pid && r["socket"]["state"] == state;
}

std::string expect_line_prefix(ChildProcess& child, const std::string& prefix) {
  while (auto line = child.read_line(std::chrono::seconds(30))) {
    if (line->rfind(prefix, 0) == 0) return line->substr(prefix.size());
  }
  throw std::runtime_error("helper did not print " + prefix);
}

namespace {

std::vector<std::string> ss_lines(const std::string& state, const std::string& netns,
                                  const std::string& flags = "-tanpH", const std::vector<std::string>& filter = {}) {
  std::vector<std::string> argv{"/usr/bin/env"};
  if (!netns.empty()) argv.insert(argv.end(), {"ip", "netns", "exec", netns});
  argv.insert(argv.end(), {"ss", flags, "state", state});
  argv.insert(argv.end(), filter.begin(), filter.end());
  std::istringstream out(run_command(argv));
  std::vector<std::string> lines;
  for (std::string line; std::getline(out, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

}  // namespace

std::map<pid_t, int> ss_counts(const std::string& state, const std::string& netns) {
  std::map<pid_t, int> counts;
  for (const std::string& line : ss_lines(state, netns)) {
    std::set<pid_t> holders;
    for (size_t at = line.find("pid="); at != std::string::npos; at = line.find("pid=", at + 4)) {
      holders.insert(static_cast<pid_t>(std::stol(line.substr(at + 4))));
    }
    for (pid_t pid : holders) ++counts[pid];
  }
  return counts;
}

std::map<pid_t, int> proc_fd_counts(const std::string& state) {
  std::set<std::string> inodes;  // sockets in that state, by inode, as ss -e prints them
  for (const std::string& line : ss_lines(state, "", "-tanHe")) {
    if (size_t at = line.find("ino:"); at != std::string::npos) {
      inodes.insert("socket:[" + line.substr(at + 4, line.find(' ', at) - at - 4) + "]");
    }
  }
  std::map<pid_t, int> counts;
  for (const auto& proc : std::filesystem::directory_iterator("/proc")) {
    const std::string name = proc.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::set<std::string> held;
    std::error_code ec;
    for (const auto& fd : std::filesystem::directory_iterator(proc.path() / "fd", ec)) {
      const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
      if (!ec && inodes.contains(target)) held.insert(target);
    }
    if (!held.empty()) counts[static_cast<pid_t>(std::stol(name))] = static_cast<int>(held.size());
  }
  return counts;
}

int ss_total(const std::string& state, const std::string& netns) {
  return static_cast<int>(ss_lines(state, netns).size());
}

int ss_on_port(const std::string& state, const std::string& side, const std::string& port) {
  return static_cast<int>(ss_lines(state, "", "-tanH", {side, "=", ":" + port}).size());
}

int ss_count(pid_t pid, const std::string& state) {
  const auto counts = ss_counts(state);
  auto it = counts.find(pid);
  return it == counts.end() ? 0 : it->second;
}

std::map<pid_t, int> linger_counts(const std::vector<Record>& records, const std::string& state) {
  std::map<pid_t, int> counts;
  for (const Record& r : records) {
    if (r.value("type", "") == "linger" && r["socket"]["state"] == state) {
      counts[r["process"]["pid"].get<pid_t>()] += r["socket"]["count"].get<int>();
    }
  }
  return counts;
}

std::map<pid_t, int> only(const std::map<pid_t, int>& counts, const std::vector<pid_t>& pids) {
  std::map<pid_t, int> kept;
  for (pid_t pid : pids) {
    if (auto it = counts.find(pid); it != counts.end()) kept[pid] = it->second;
  }
  return kept;
}

std::pair<std::vector<Record>, Record> SockleakRun::next_cycle(std::chrono::milliseconds timeout) {
  const size_t from = seen_.size();
  auto stats = wait_for([](const Record& r) { return r.value("type", "") == "stats"; }, timeout);
  if (!stats) throw std::runtime_error("no report cycle within timeout");
  std::vector<Record> lingers(seen_.begin() + static_cast<std::ptrdiff_t>(from), seen_.end() - 1);
  return {lingers, *stats};
}

LoopbackServer::LoopbackServer(std::vector<std::string> extra, const NetNamespace* ns, const std::string& bind)
    : process([&] {
        std::vector<std::string> argv{HTTP_SERVER_BIN, "--bind", bind, "--max-seconds", "120"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return ns ? ns->exec(argv) : argv;
      }()),
      port(expect_line_prefix(process, "PORT ")) {}

NetNamespace::NetNamespace() : name_("sockleak-test-" + std::to_string(getpid())) {
  run_command({"/usr/bin/env", "ip", "netns", "add", name_});
  run_command({"/usr/bin/env", "ip", "-n", name_, "link", "set", "lo", "up"});
}

NetNamespace::~NetNamespace() { run_command({"/usr/bin/env", "ip", "netns", "del", name_}); }

uint64_t NetNamespace::inode() const {
  struct stat st {};
  if (stat(("/run/netns/" + name_).c_str(), &st) != 0) throw std::runtime_error("netns " + name_ + " missing");
  return st.st_ino;
}

std::vector<std::string> NetNamespace::exec(std::vector<std::string> argv) const {
  argv.insert(argv.begin(), {"/usr/bin/env", "ip", "netns", "exec", name_});
  return argv;
}

}  // namespace sockleak::test
