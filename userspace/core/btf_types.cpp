#include "core/btf_types.h"

#include <linux/btf.h>

#include <cstring>

namespace sockleak {
namespace {

template <typename T>
T read_at(std::span<const char> blob, size_t offset) {
  T value{};
  std::memcpy(&value, blob.data() + offset, sizeof value);
  return value;
}

// Bytes that follow a btf_type of this kind, or -1 for a kind this reader does not know.
long trailing_bytes(uint32_t kind, uint32_t vlen) {
  switch (kind) {
    case BTF_KIND_INT:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
      return 4;
    case BTF_KIND_PTR:
    case BTF_KIND_FWD:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_FUNC:
    case BTF_KIND_FLOAT:
    case BTF_KIND_TYPE_TAG:
      return 0;
    case BTF_KIND_ARRAY:
      return sizeof(btf_array);
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION:
      return static_cast<long>(vlen * sizeof(btf_member));
    case BTF_KIND_ENUM:
      return static_cast<long>(vlen * sizeof(btf_enum));
    case BTF_KIND_FUNC_PROTO:
      return static_cast<long>(vlen * sizeof(btf_param));
    case BTF_KIND_DATASEC:
      return static_cast<long>(vlen * sizeof(btf_var_secinfo));
    case BTF_KIND_ENUM64:
      return static_cast<long>(vlen * sizeof(btf_enum64));
    default:
      return -1;
  }
}

}  // namespace

std::optional<BtfTypes> BtfTypes::parse(std::vector<char> blob, std::string* error) {
  auto owner = std::make_shared<const std::vector<char>>(std::move(blob));
  return parse(std::span<const char>(*owner), owner, error);
}

std::optional<BtfTypes> BtfTypes::parse(std::span<const char> blob, std::shared_ptr<const void> owner,
                                        std::string* error) {
  auto fail = [error](const std::string& why) {
    *error = why;
    return std::nullopt;
  };
  if (blob.size() < sizeof(btf_header)) return fail("too short for a BTF header");
  const auto header = read_at<btf_header>(blob, 0);
  if (header.magic != BTF_MAGIC) return fail("not BTF (or another byte order)");
  const uint64_t types = uint64_t{header.hdr_len} + header.type_off;
  const uint64_t strings = uint64_t{header.hdr_len} + header.str_off;
  if (header.hdr_len < sizeof(btf_header) || types + header.type_len > blob.size() ||
      strings + header.str_len > blob.size() || header.str_len == 0) {
    return fail("its sections do not fit in its " + std::to_string(blob.size()) + " bytes");
  }
  BtfTypes t(blob, std::move(owner));
  t.types_ = types;
  t.types_end_ = types + header.type_len;
  t.strings_ = strings;
  t.strings_end_ = strings + header.str_len;
  // Every type must be one this reader can step over: a walk never leaves the section.
  for (size_t at = t.types_; at < t.types_end_;) {
    if (at + sizeof(btf_type) > t.types_end_) return fail("a type runs past the type section");
    const auto type = read_at<btf_type>(t.blob_, at);
    const long more = trailing_bytes(BTF_INFO_KIND(type.info), BTF_INFO_VLEN(type.info));
    if (more < 0) return fail("BTF kind " + std::to_string(BTF_INFO_KIND(type.info)) + " is unknown to sockleak");
    at += sizeof(btf_type) + static_cast<size_t>(more);
    if (at > t.types_end_) return fail("a type runs past the type section");
  }
  return t;
}

template <typename Visit>
void BtfTypes::walk(Visit visit) const {
  int id = 1;  // type 0 is void
  for (size_t at = types_; at < types_end_; ++id) {
    if (visit(id, at)) return;
    const auto type = read_at<btf_type>(blob_, at);
    at += sizeof(btf_type) + static_cast<size_t>(trailing_bytes(BTF_INFO_KIND(type.info), BTF_INFO_VLEN(type.info)));
  }
}

std::string_view BtfTypes::name_at(uint32_t offset) const {
  if (strings_ + offset >= strings_end_) return {};
  const char* start = blob_.data() + strings_ + offset;
  return std::string_view(start, strnlen(start, strings_end_ - strings_ - offset));
}

int BtfTypes::find(std::string_view name, uint32_t kind) const {
  int found = -1;
  walk([&](int id, size_t at) {
    const auto type = read_at<btf_type>(blob_, at);
    if (BTF_INFO_KIND(type.info) != kind || name_at(type.name_off) != name) return false;
    found = id;
    return true;
  });
  return found;
}

int BtfTypes::member_offset(std::string_view type_name, std::string_view member) const {
  int offset = -1;
  walk([&](int, size_t at) {
    const auto type = read_at<btf_type>(blob_, at);
    const uint32_t kind = BTF_INFO_KIND(type.info);
    if ((kind != BTF_KIND_STRUCT && kind != BTF_KIND_UNION) || name_at(type.name_off) != type_name) return false;
    const bool bitfields = (type.info >> 31) != 0;  // kind_flag: offsets carry a bit size
    for (uint32_t i = 0; i < BTF_INFO_VLEN(type.info); ++i) {
      const auto m = read_at<btf_member>(blob_, at + sizeof(btf_type) + i * sizeof(btf_member));
      if (name_at(m.name_off) == member) {
        const uint32_t bits = bitfields ? BTF_MEMBER_BIT_OFFSET(m.offset) : m.offset;
        offset = static_cast<int>(bits / 8);
        break;
      }
    }
    return true;
  });
  return offset;
}

}  // namespace sockleak
