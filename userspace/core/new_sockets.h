// NewSockets: the sockets that reached ESTABLISHED lately, as the state hook notes them
// per CPU (sl_new_socks). A reconcile of new sockets visits only those when it can say
// exactly which arrived since the last walk, instead of every held socket on the host.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/abi.h"

namespace sockleak {

class NewSockets {
 public:
  NewSockets() = default;
  // One reading of the per-CPU values (one per possible CPU, in CPU order).
  explicit NewSockets(std::vector<sl_new_socks> cpus) : cpus_(std::move(cpus)) {}

  // What every CPU had noted at this reading: the marks the next since() counts from.
  std::vector<uint64_t> marks() const;
  // The addresses of the sockets noted after marks (each once), or nullopt when this
  // reading cannot say: no marks yet (or of another CPU count), a count that went back, or
  // a CPU that noted more than half its slots since (the oldest may be overwritten, even
  // while this reading was copied).
  std::optional<std::vector<uint64_t>> since(const std::vector<uint64_t>& marks) const;

 private:
  std::vector<sl_new_socks> cpus_;
};

}  // namespace sockleak
