// BtfTypes: the few lookups the start-up feature probes make in the kernel's BTF (a type id
// by name and kind, a struct member's offset), over the raw blob, without building an index.
// libbpf's full parse of vmlinux BTF (6 MB, 100k+ types) costs about 15-45 ms of a
// `snapshot`; libbpf still parses it once more to load the object, for CO-RE.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sockleak {

class BtfTypes {
 public:
  // The blob as the kernel publishes it (/sys/kernel/btf/vmlinux): a header, the type
  // section and the string section. Nullopt with *error set when it is not well formed
  // (a BTF kind newer than this reader included: it must step over every type).
  static std::optional<BtfTypes> parse(std::vector<char> blob, std::string* error);
  // The same over bytes another object owns (a mapping of the file): owner keeps them.
  static std::optional<BtfTypes> parse(std::span<const char> blob, std::shared_ptr<const void> owner,
                                       std::string* error);

  // The id of the first type of this kind (BTF_KIND_*) with this name; -1 if none.
  int find(std::string_view name, uint32_t kind) const;
  // The byte offset of a member of the struct (or union) named so; -1 if either is missing.
  int member_offset(std::string_view type, std::string_view member) const;

 private:
  BtfTypes(std::span<const char> blob, std::shared_ptr<const void> owner) : blob_(blob), owner_(std::move(owner)) {}
  // Calls visit(id, offset of its btf_type in blob_) for each type until it returns true.
  template <typename Visit>
  void walk(Visit visit) const;
  std::string_view name_at(uint32_t offset) const;

  std::span<const char> blob_;
  std::shared_ptr<const void> owner_;
  size_t types_ = 0;  // offsets in blob_ of the type and string sections, and their ends
  size_t types_end_ = 0;
  size_t strings_ = 0;
  size_t strings_end_ = 0;
};

}  // namespace sockleak
