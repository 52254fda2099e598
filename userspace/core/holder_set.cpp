#include "core/holder_set.h"

#include <algorithm>

namespace sockleak {

HolderSet::HolderSet(const HolderSet& other)
    : first_(other.first_), rest_(other.rest_ ? std::make_unique<std::vector<Holder>>(*other.rest_) : nullptr) {}

HolderSet& HolderSet::operator=(const HolderSet& other) {
  if (this != &other) *this = HolderSet(other);
  return *this;
}

HolderSet HolderSet::of(const ProcessKey& process) {
  HolderSet set;
  set.add(process);
  return set;
}

HolderSet::Holder* HolderSet::find(const ProcessKey& process) {
  if (first_.fds && first_.process == process) return &first_;
  if (rest_) {
    for (Holder& h : *rest_) {
      if (h.process == process) return &h;
    }
  }
  return nullptr;
}

void HolderSet::add(const ProcessKey& process) {
  if (Holder* h = find(process)) {
    ++h->fds;
  } else if (empty()) {
    first_ = {process, 1};
  } else {
    if (!rest_) rest_ = std::make_unique<std::vector<Holder>>();
    rest_->push_back({process, 1});
  }
}

void HolderSet::release(const ProcessKey& process) {
  Holder* h = find(process);
  if (!h || --h->fds > 0) return;
  if (h == &first_) {
    if (rest_ && !rest_->empty()) {
      first_ = rest_->back();
      rest_->pop_back();
    } else {
      first_ = {};
    }
  } else {
    *h = rest_->back();
    rest_->pop_back();
  }
  if (rest_ && rest_->empty()) rest_.reset();
}

void HolderSet::set_fds(const ProcessKey& process, uint32_t fds) {
  Holder* h = find(process);
  if (fds == 0) {
    if (h) {
      h->fds = 1;
      release(process);  // removes it and keeps the set compact
    }
    return;
  }
  if (!h) {
    add(process);
    h = find(process);
  }
  h->fds = fds;
}

bool HolderSet::operator==(const HolderSet& other) const {
  // One holder each (nearly every socket): no list to build.
  if (!rest_ && !other.rest_) return first_ == other.first_;
  return list() == other.list();
}

std::vector<HolderSet::Holder> HolderSet::list() const {
  std::vector<Holder> all;
  if (empty()) return all;
  all.push_back(first_);
  if (rest_) all.insert(all.end(), rest_->begin(), rest_->end());
  std::sort(all.begin(), all.end(), [](const Holder& a, const Holder& b) { return a.process < b.process; });
  return all;
}

}  // namespace sockleak
