#include "output/output_sink.h"

#include <poll.h>
#include <unistd.h>

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
  // Written with write(2), not stdio: a stdout inherited non-blocking (O_NONBLOCK is shared
  // by every process holding the pipe) fails with EAGAIN while its reader is behind, and a
  // stdio stream would drop what it could not write. Wait for the reader, as a blocking
  // stdout would.
  const int fd = fileno(file_);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    const int err = n < 0 ? errno : EIO;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      pollfd writable{fd, POLLOUT, 0};
      ::poll(&writable, 1, -1);
      continue;
    }
    if (!path_ && err == EPIPE) {
      closed_ = true;  // the reader of stdout is gone: a clean end
      return false;
    }
    // A full disk (/dev/full: ENOSPC), EIO, a bad fd: records are being lost.
    throw Error("write " + (path_ ? *path_ : std::string("stdout")) + ": " + std::strerror(err));
  }
  return true;
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
