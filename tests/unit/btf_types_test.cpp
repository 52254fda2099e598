// BtfTypes: the feature probes' lookups over a raw BTF blob, on blobs built here type by
// type (the real vmlinux is compared with libbpf's reading in the BPF tier).
#include <linux/btf.h>

#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/btf_types.h"

using sockleak::BtfTypes;

namespace {

// Builds a blob: types appended with their trailing data, names into the string section.
class BlobBuilder {
 public:
  BlobBuilder() { strings_.push_back('\0'); }
  uint32_t name(const std::string& s) {
    const auto off = static_cast<uint32_t>(strings_.size());
    strings_.insert(strings_.end(), s.begin(), s.end());
    strings_.push_back('\0');
    return off;
  }
  BlobBuilder& type(const std::string& n, uint32_t kind, uint32_t vlen, uint32_t size_or_type, bool kind_flag = false) {
    btf_type t{};
    t.name_off = n.empty() ? 0 : name(n);
    t.info = (kind_flag ? 1u << 31 : 0u) | (kind << 24) | vlen;
    t.size = size_or_type;
    return raw(&t, sizeof t);
  }
  BlobBuilder& member(const std::string& n, uint32_t type, uint32_t offset) {
    btf_member m{name(n), type, offset};
    return raw(&m, sizeof m);
  }
  BlobBuilder& u32(uint32_t v) { return raw(&v, sizeof v); }
  BlobBuilder& raw(const void* p, size_t n) {
    const auto* b = static_cast<const char*>(p);
    types_.insert(types_.end(), b, b + n);
    return *this;
  }
  std::vector<char> blob() const {
    btf_header h{};
    h.magic = BTF_MAGIC;
    h.version = BTF_VERSION;
    h.hdr_len = sizeof h;
    h.type_off = 0;
    h.type_len = static_cast<uint32_t>(types_.size());
    h.str_off = h.type_len;
    h.str_len = static_cast<uint32_t>(strings_.size());
    std::vector<char> out(sizeof h);
    std::memcpy(out.data(), &h, sizeof h);
    out.insert(out.end(), types_.begin(), types_.end());
    out.insert(out.end(), strings_.begin(), strings_.end());
    return out;
  }

 private:
  std::vector<char> types_;
  std::vector<char> strings_;
};

BlobBuilder kernel_like() {
  BlobBuilder b;
  b.type("int", BTF_KIND_INT, 0, 4).u32(32);                       // 1
  b.type("socket", BTF_KIND_STRUCT, 2, 32)                          // 2
      .member("state", 1, 0)
      .member("sk", 3, 24 * 8);
  b.type("", BTF_KIND_PTR, 0, 4);                                    // 3: struct sock *
  b.type("sock", BTF_KIND_STRUCT, 0, 0);                             // 4
  b.type("btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF, 0, 3);   // 5
  b.type("", BTF_KIND_FUNC_PROTO, 1, 1).u32(0).u32(1);               // 6
  b.type("bpf_iter_task_file", BTF_KIND_FUNC, 0, 6);                 // 7
  b.type("flags", BTF_KIND_ENUM64, 1, 8).u32(b.name("BIG")).u32(1).u32(2);  // 8
  b.type("packed", BTF_KIND_STRUCT, 2, 8, true)                      // 9: bitfield offsets
      .member("low", 1, (3u << 24) | 0)
      .member("high", 1, (5u << 24) | 40);
  return b;
}

}  // namespace

TEST_CASE("BTF lookups find types by name and kind, as type ids counted from 1", "[btf]") {
  std::string error;
  const auto types = BtfTypes::parse(kernel_like().blob(), &error);
  REQUIRE(types);
  CHECK(types->find("int", BTF_KIND_INT) == 1);
  CHECK(types->find("socket", BTF_KIND_STRUCT) == 2);
  CHECK(types->find("sock", BTF_KIND_STRUCT) == 4);
  CHECK(types->find("btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF) == 5);
  CHECK(types->find("bpf_iter_task_file", BTF_KIND_FUNC) == 7);
  CHECK(types->find("flags", BTF_KIND_ENUM64) == 8);
  CHECK(types->find("socket", BTF_KIND_TYPEDEF) == -1);  // the name, of another kind
  CHECK(types->find("sock_common", BTF_KIND_STRUCT) == -1);
  CHECK(types->find("", BTF_KIND_PTR) == 3);
}

TEST_CASE("BTF member offsets are in bytes, bitfield structs included", "[btf]") {
  std::string error;
  const auto types = BtfTypes::parse(kernel_like().blob(), &error);
  REQUIRE(types);
  CHECK(types->member_offset("socket", "sk") == 24);
  CHECK(types->member_offset("socket", "state") == 0);
  CHECK(types->member_offset("socket", "file") == -1);
  CHECK(types->member_offset("sk_buff", "sk") == -1);
  CHECK(types->member_offset("packed", "high") == 5);  // bit 40, its size in the top byte
}

TEST_CASE("a BTF blob that is cut short, foreign or of an unknown kind is refused with the reason", "[btf]") {
  std::string error;
  std::vector<char> blob = kernel_like().blob();
  CHECK_FALSE(BtfTypes::parse(std::vector<char>(blob.begin(), blob.begin() + 10), &error));
  CHECK(error.find("header") != std::string::npos);

  std::vector<char> foreign = blob;
  foreign[0] = 0;
  CHECK_FALSE(BtfTypes::parse(foreign, &error));
  CHECK(error.find("not BTF") != std::string::npos);

  std::vector<char> cut(blob.begin(), blob.end() - 4);  // the string section runs past the end
  CHECK_FALSE(BtfTypes::parse(cut, &error));
  CHECK(error.find("do not fit") != std::string::npos);

  BlobBuilder future;
  future.type("int", BTF_KIND_INT, 0, 4).u32(32).type("next", 31, 0, 0);
  CHECK_FALSE(BtfTypes::parse(future.blob(), &error));
  CHECK(error == "BTF kind 31 is unknown to sockleak");

  BlobBuilder overrun;  // a struct that claims more members than the section holds
  overrun.type("s", BTF_KIND_STRUCT, 3, 8).member("a", 0, 0);
  CHECK_FALSE(BtfTypes::parse(overrun.blob(), &error));
  CHECK(error.find("runs past") != std::string::npos);
}

TEST_CASE("a BTF blob owned elsewhere (a mapping) is read in place and kept alive by its owner", "[btf]") {
  auto bytes = std::make_shared<std::vector<char>>(kernel_like().blob());
  std::string error;
  std::optional<BtfTypes> types =
      BtfTypes::parse(std::span<const char>(*bytes), std::shared_ptr<const void>(bytes), &error);
  REQUIRE(types);
  bytes.reset();  // the parsed types hold the only reference now
  const BtfTypes copy = *types;
  types.reset();
  CHECK(copy.find("bpf_iter_task_file", BTF_KIND_FUNC) == 7);
  CHECK(copy.member_offset("socket", "sk") == 24);
}

TEST_CASE("BTF header lengths past the blob and names past the strings are refused or not matched", "[btf]") {
  std::string error;
  std::vector<char> blob = kernel_like().blob();
  btf_header h{};
  std::memcpy(&h, blob.data(), sizeof h);
  h.hdr_len = static_cast<uint32_t>(blob.size());  // the sections would start past the end
  std::vector<char> long_header = blob;
  std::memcpy(long_header.data(), &h, sizeof h);
  CHECK_FALSE(BtfTypes::parse(long_header, &error));

  BlobBuilder stray;  // a type whose name offset points past the string section
  btf_type t{};
  t.name_off = 1u << 20;
  t.info = BTF_KIND_STRUCT << 24;
  stray.raw(&t, sizeof t);
  const auto types = BtfTypes::parse(stray.blob(), &error);
  REQUIRE(types);
  CHECK(types->find("", BTF_KIND_STRUCT) == 1);  // an unreadable name reads as none
  CHECK(types->find("socket", BTF_KIND_STRUCT) == -1);
}
