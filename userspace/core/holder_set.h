// HolderSet: the processes holding one socket, with how many fds each holds it in.
// Almost every socket has exactly one holder: that one is kept inline (32 bytes in all),
// more spill to the heap. A million tracked sockets stay well under 200 bytes each.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/process_key.h"

namespace sockleak {

class HolderSet {
 public:
  struct Holder {
    ProcessKey process;
    uint32_t fds = 0;
    bool operator==(const Holder&) const = default;
  };

  HolderSet() = default;
  HolderSet(const HolderSet& other);
  HolderSet& operator=(const HolderSet& other);
  HolderSet(HolderSet&&) noexcept = default;
  HolderSet& operator=(HolderSet&&) noexcept = default;

  static HolderSet of(const ProcessKey& process);
  void add(const ProcessKey& process);       // one more fd
  void release(const ProcessKey& process);   // one fd fewer; drops the holder at zero
  void set_fds(const ProcessKey& process, uint32_t fds);  // exactly fds (0 drops the holder)
  bool empty() const { return first_.fds == 0; }
  std::vector<Holder> list() const;           // sorted by process
  template <class F>
  void each(F&& f) const {  // in no order; builds no list
    if (empty()) return;
    f(first_);
    if (rest_) {
      for (const Holder& h : *rest_) f(h);
    }
  }
  bool operator==(const HolderSet& other) const;

 private:
  Holder* find(const ProcessKey& process);
  Holder first_{};                            // fds == 0: no holder at all
  std::unique_ptr<std::vector<Holder>> rest_; // the second holder onwards
};

}  // namespace sockleak
