// CookieMap: sockets' facts by socket identity (cookie), in one flat array (open addressing,
// linear probing). A lookup costs one cache miss where std::unordered_map costs three (bucket,
// the node before, the node): reports join 100k lingering sockets with their holders, and
// those misses were half of a report's CPU.
// Keys are any 64-bit value (0 included); values are default-constructible and movable.
// Pointers to values stay valid until the next insert or erase.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace sockleak {

template <class V>
class CookieMap {
 public:
  size_t size() const { return size_ + (zero_ ? 1 : 0); }
  bool empty() const { return size() == 0; }
  void clear() {
    slots_.clear();
    size_ = 0;
    zero_.reset();
  }

  V* find(uint64_t key) {
    if (key == 0) return zero_ ? &*zero_ : nullptr;
    if (slots_.empty()) return nullptr;
    for (size_t i = home(key);; i = next(i)) {
      if (slots_[i].key == key) return &slots_[i].value;
      if (slots_[i].key == 0) return nullptr;
    }
  }
  const V* find(uint64_t key) const { return const_cast<CookieMap*>(this)->find(key); }
  bool contains(uint64_t key) const { return find(key) != nullptr; }

  // The value of key, default-made if absent; second: whether it was made now.
  std::pair<V*, bool> try_emplace(uint64_t key) {
    if (key == 0) {
      const bool fresh = !zero_;
      if (fresh) zero_.emplace();
      return {&*zero_, fresh};
    }
    if (V* found = find(key)) return {found, false};
    if ((size_ + 1) * 8 > slots_.size() * 7) grow();
    size_t i = home(key);
    while (slots_[i].key != 0) i = next(i);
    slots_[i].key = key;
    ++size_;
    return {&slots_[i].value, true};
  }

  bool erase(uint64_t key) {
    if (key == 0) {
      const bool had = zero_.has_value();
      zero_.reset();
      return had;
    }
    if (slots_.empty()) return false;
    for (size_t i = home(key);; i = next(i)) {
      if (slots_[i].key == 0) return false;
      if (slots_[i].key == key) {
        remove_at(i);
        return true;
      }
    }
  }

  // f(key, value) for every entry, in no order.
  template <class F>
  void each(F&& f) const {
    if (zero_) f(uint64_t{0}, *zero_);
    for (const Slot& s : slots_) {
      if (s.key != 0) f(s.key, s.value);
    }
  }

  // Erases the entries for which pred(key, value) is true; pred sees each entry once.
  template <class F>
  size_t erase_if(F&& pred) {
    std::vector<uint64_t> doomed;
    each([&](uint64_t key, const V& value) {
      if (pred(key, value)) doomed.push_back(key);
    });
    for (uint64_t key : doomed) erase(key);
    return doomed.size();
  }

 private:
  struct Slot {
    uint64_t key = 0;  // 0: empty (key 0 itself lives in zero_)
    V value{};
  };
  size_t mask() const { return slots_.size() - 1; }
  // Fibonacci hashing: cookies are sequential, socket addresses are strided; both spread.
  size_t home(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  size_t next(size_t i) const { return (i + 1) & mask(); }

  void grow() {
    std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(slots_.empty() ? 16 : slots_.size() * 2));
    shift_ = 64;
    for (size_t n = slots_.size(); n > 1; n >>= 1) --shift_;
    for (Slot& s : old) {
      if (s.key == 0) continue;
      size_t i = home(s.key);
      while (slots_[i].key != 0) i = next(i);
      slots_[i] = std::move(s);
    }
  }

  // Backward-shift deletion: later entries of the probe run move up, so no tombstones.
  void remove_at(size_t hole) {
    for (size_t j = next(hole);; j = next(j)) {
      if (slots_[j].key == 0) break;
      const size_t want = home(slots_[j].key);
      // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole <= j ? (hole < want && want <= j) : (hole < want || want <= j);
      if (stays) continue;
      slots_[hole] = std::move(slots_[j]);
      hole = j;
    }
    slots_[hole] = Slot{};
    --size_;
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;  // entries in slots_
  unsigned shift_ = 64;
  std::optional<V> zero_;
};

}  // namespace sockleak
