#include "core/go_pclntab.h"

#include <cstring>

namespace sockleak {
namespace {

constexpr uint32_t kMagicGo118 = 0xfffffff0;
constexpr uint32_t kMagicGo120 = 0xfffffff1;
constexpr size_t kHeaderSize = 8 + 8 * 8;  // magic, pads, minLC, ptrSize; eight 64-bit words

template <typename T>
std::optional<T> read_at(const std::vector<std::byte>& bytes, uint64_t offset) {
  if (offset > bytes.size() || bytes.size() - offset < sizeof(T)) return std::nullopt;
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);  // little-endian x86-64, as the table
  return value;
}

}  // namespace

std::optional<GoFuncTable> GoFuncTable::parse(std::span<const std::byte> section, uint64_t text_addr) {
  if (section.size() < kHeaderSize) return std::nullopt;
  GoFuncTable table;
  table.bytes_.assign(section.begin(), section.end());
  const auto& b = table.bytes_;
  const uint32_t magic = *read_at<uint32_t>(b, 0);
  if ((magic != kMagicGo118 && magic != kMagicGo120) || *read_at<uint8_t>(b, 4) != 0 || *read_at<uint8_t>(b, 5) != 0 ||
      *read_at<uint8_t>(b, 7) != 8) {
    return std::nullopt;
  }
  table.nfunc_ = *read_at<uint64_t>(b, 8);
  const uint64_t text_start = *read_at<uint64_t>(b, 24);
  table.text_start_ = text_start ? text_start : text_addr;
  table.funcnames_ = *read_at<uint64_t>(b, 32);
  table.functab_ = *read_at<uint64_t>(b, 64);  // pclnOffset: functab, then the _func records
  // nfunc + 1 entries of (entry offset, _func offset), the last one the end of text.
  if (table.funcnames_ >= b.size() || table.functab_ >= b.size() || table.nfunc_ == 0 ||
      table.nfunc_ > (b.size() - table.functab_) / 8 - 1) {
    return std::nullopt;
  }
  return table;
}

std::optional<std::string> GoFuncTable::function_at(uint64_t pc) const {
  if (pc < text_start_ || pc - text_start_ > UINT32_MAX) return std::nullopt;
  const auto offset = static_cast<uint32_t>(pc - text_start_);
  auto entry = [&](uint64_t i) { return read_at<uint32_t>(bytes_, functab_ + i * 8); };
  // The table is sorted by entry offset: the last function starting at or before pc.
  const auto end = entry(nfunc_);
  if (!end || offset >= *end) return std::nullopt;
  uint64_t lo = 0;
  uint64_t hi = nfunc_;  // entry(lo) <= offset < entry(hi)
  const auto first = entry(0);
  if (!first || offset < *first) return std::nullopt;
  while (hi - lo > 1) {
    const uint64_t mid = lo + (hi - lo) / 2;
    const auto at = entry(mid);
    if (!at) return std::nullopt;
    (*at <= offset ? lo : hi) = mid;
  }
  const auto func = read_at<uint32_t>(bytes_, functab_ + lo * 8 + 4);
  if (!func) return std::nullopt;
  // _func: entryOff uint32, nameOff int32 (into funcnametab).
  const auto name_off = read_at<int32_t>(bytes_, functab_ + *func + 4);
  if (!name_off || *name_off < 0) return std::nullopt;
  const uint64_t start = funcnames_ + static_cast<uint64_t>(*name_off);
  if (start >= bytes_.size()) return std::nullopt;
  const auto* text = reinterpret_cast<const char*>(bytes_.data() + start);
  const size_t len = strnlen(text, bytes_.size() - start);
  if (len == 0 || start + len == bytes_.size()) return std::nullopt;  // unterminated
  return std::string(text, len);
}

}  // namespace sockleak
