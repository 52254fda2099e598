#include "sockleak_run.h"

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

int ss_count(pid_t pid, const std::string& state) {
  const std::string out = run_command({"/usr/bin/env", "ss", "-tanpH", "state", state});
  const std::string needle = "pid=" + std::to_string(pid) + ",";
  int count = 0;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    if (out.substr(start, end - start).find(needle) != std::string::npos) ++count;
    start = end + 1;
  }
  return count;
}

}  // namespace sockleak::test
