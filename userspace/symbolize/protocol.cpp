#include "symbolize/protocol.h"

#include <cstring>

namespace sockleak {
namespace {

class Writer {
 public:
  template <typename T>
  void put(T v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    out_.insert(out_.end(), p, p + sizeof v);
  }
  void text(const std::string& s) {
    put(static_cast<uint32_t>(s.size()));
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
  }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  std::vector<std::byte> out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}
  template <typename T>
  std::optional<T> get() {
    if (in_.size() - at_ < sizeof(T)) return std::nullopt;
    T v;
    std::memcpy(&v, in_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  std::optional<std::string> text() {
    const auto len = get<uint32_t>();
    if (!len || *len > kMaxText || in_.size() - at_ < *len) return std::nullopt;
    std::string s(reinterpret_cast<const char*>(in_.data() + at_), *len);
    at_ += *len;
    return s;
  }
  bool done() const { return at_ == in_.size(); }

 private:
  std::span<const std::byte> in_;
  size_t at_ = 0;
};

}  // namespace

std::vector<std::byte> encode_request(const SymbolizeRequest& request) {
  Writer w;
  w.put(kSymbolizeMagic);
  w.put(static_cast<uint32_t>(request.kind));
  w.put(static_cast<uint32_t>(request.modules.size()));
  w.put(static_cast<uint32_t>(request.addresses.size()));
  for (const SymbolizeModule& m : request.modules) {
    w.put(m.base);
    w.text(m.name);
  }
  for (uint64_t a : request.addresses) w.put(a);
  return w.take();
}

std::optional<SymbolizeRequest> decode_request(std::span<const std::byte> bytes) {
  if (bytes.size() > kMaxMessage) return std::nullopt;
  Reader r(bytes);
  const auto magic = r.get<uint32_t>();
  const auto kind = r.get<uint32_t>();
  const auto modules = r.get<uint32_t>();
  const auto addresses = r.get<uint32_t>();
  if (!magic || *magic != kSymbolizeMagic || !kind || !modules || !addresses) return std::nullopt;
  if ((*kind != 1 && *kind != 2) || *modules > kMaxModules || *addresses > kMaxAddresses) return std::nullopt;
  SymbolizeRequest request;
  request.kind = static_cast<SymbolizeKind>(*kind);
  for (uint32_t i = 0; i < *modules; ++i) {
    const auto base = r.get<uint64_t>();
    auto name = r.text();
    if (!base || !name) return std::nullopt;
    request.modules.push_back({*base, std::move(*name)});
  }
  for (uint32_t i = 0; i < *addresses; ++i) {
    const auto a = r.get<uint64_t>();
    if (!a) return std::nullopt;
    request.addresses.push_back(*a);
  }
  if (!r.done()) return std::nullopt;
  return request;
}

std::vector<std::byte> encode_texts(const std::vector<std::string>& texts) {
  Writer w;
  w.put(static_cast<uint32_t>(texts.size()));
  for (const std::string& t : texts) w.text(t.size() > kMaxText ? t.substr(0, kMaxText) : t);
  return w.take();
}

std::optional<std::vector<std::string>> decode_texts(std::span<const std::byte> bytes, size_t expected) {
  Reader r(bytes);
  const auto count = r.get<uint32_t>();
  if (!count || *count != expected) return std::nullopt;
  std::vector<std::string> texts;
  for (uint32_t i = 0; i < *count; ++i) {
    auto t = r.text();
    if (!t) return std::nullopt;
    texts.push_back(std::move(*t));
  }
  if (!r.done()) return std::nullopt;
  return texts;
}

}  // namespace sockleak
