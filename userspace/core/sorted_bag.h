// SortedBag: a multiset kept as one sorted vector, changed in batches. Adds and removals
// wait until the next read, which applies them in one pass over the vector (a sort of the
// batch, a compaction, a merge from the back): no node per element (100k elements are
// 100k times the element's size, not three pointers more each) and a read after few
// changes costs one sequential pass, not a pass of lookups.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <vector>

namespace sockleak {

template <class T>
class SortedBag {
 public:
  void add(const T& value) { added_.push_back(value); }
  // Removes one element equal to value: one that is in the bag or added since the last read.
  void remove(const T& value) { removed_.push_back(value); }
  // Every element, ascending.
  const std::vector<T>& items() const {
    settle();
    return items_;
  }
  bool empty() const { return items().empty(); }
  // Elements removed that were never in the bag (a caller's bookkeeping error; 0 always).
  size_t unmatched_removals() const { return unmatched_; }

 private:
  void settle() const {
    if (added_.empty() && removed_.empty()) return;
    std::sort(added_.begin(), added_.end());
    std::sort(removed_.begin(), removed_.end());
    cancel_pending();
    remove_sorted();
    merge_added();
    added_.clear();
    removed_.clear();
    if (added_.capacity() > kKeptBatch) added_.shrink_to_fit();
    if (removed_.capacity() > kKeptBatch) removed_.shrink_to_fit();
  }
  // Removals of elements added since the last read cancel out against them.
  void cancel_pending() const {
    if (removed_.empty() || added_.empty()) return;
    std::vector<T> added;
    std::vector<T> removed;
    std::set_difference(added_.begin(), added_.end(), removed_.begin(), removed_.end(), std::back_inserter(added));
    std::set_difference(removed_.begin(), removed_.end(), added_.begin(), added_.end(), std::back_inserter(removed));
    added_ = std::move(added);
    removed_ = std::move(removed);
  }
  void remove_sorted() const {
    if (removed_.empty()) return;
    size_t r = 0;
    size_t kept = 0;
    for (size_t i = 0; i < items_.size(); ++i) {
      while (r < removed_.size() && removed_[r] < items_[i]) {
        ++unmatched_;
        ++r;
      }
      if (r < removed_.size() && !(items_[i] < removed_[r])) {
        ++r;  // equal: this one goes
        continue;
      }
      items_[kept++] = items_[i];
    }
    unmatched_ += removed_.size() - r;
    items_.resize(kept);
  }
  void merge_added() const {
    if (added_.empty()) return;
    size_t i = items_.size();
    size_t j = added_.size();
    // Room for an eighth more, not the doubling of a plain resize: 100k peers are 2 MB.
    if (items_.size() + added_.size() > items_.capacity()) {
      items_.reserve(items_.size() + added_.size() + (items_.size() + added_.size()) / 8);
    }
    items_.resize(items_.size() + added_.size());
    for (size_t w = items_.size(); j > 0;) {
      if (i > 0 && added_[j - 1] < items_[i - 1]) {
        items_[--w] = items_[--i];
      } else {
        items_[--w] = added_[--j];
      }
    }
  }
  static constexpr size_t kKeptBatch = 4096;  // a batch's room kept between reads
  mutable std::vector<T> items_;
  mutable std::vector<T> added_;
  mutable std::vector<T> removed_;
  mutable size_t unmatched_ = 0;
};

}  // namespace sockleak
