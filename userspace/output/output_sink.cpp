#include "output/output_sink.h"

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace sockleak {
namespace {

std::FILE* open_append(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "ae");
  if (!f) throw Error("--output " + path + ": " + std::strerror(errno), kExitUsage);
  return f;
}

}  // namespace

OutputSink::OutputSink(std::optional<std::string> path) : path_(std::move(path)) {
  file_ = path_ ? open_append(*path_) : stdout;
}

OutputSink::~OutputSink() {
  if (path_ && file_) std::fclose(file_);
}

bool OutputSink::write(const std::string& text) {
  if (closed_) return false;
  if (std::fwrite(text.data(), 1, text.size(), file_) == text.size() && std::fflush(file_) == 0) return true;
  const int err = errno;
  std::clearerr(file_);
  if (!path_ && err == EPIPE) {
    closed_ = true;  // the reader of stdout is gone: a clean end
    return false;
  }
  // A full disk (/dev/full: ENOSPC), EIO, a bad fd: records are being lost.
  throw Error("write " + (path_ ? *path_ : std::string("stdout")) + ": " + std::strerror(err));
}

void OutputSink::reopen(std::optional<std::string> path) {
  if (!path) {
    if (path_) std::fclose(file_);
    path_.reset();
    file_ = stdout;
    return;
  }
  std::FILE* next = open_append(*path);
  if (path_) std::fclose(file_);
  path_ = std::move(path);
  file_ = next;
}

}  // namespace sockleak
