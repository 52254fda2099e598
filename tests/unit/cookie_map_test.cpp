// CookieMap: the flat map of socket facts by cookie, against std::unordered_map under
// random inserts and erases (backward-shift deletion is where such maps go wrong).
#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>

#include <catch2/catch.hpp>

#include "core/cookie_map.h"

using sockleak::CookieMap;

namespace {

// Both maps hold exactly the same entries.
void check_same(const CookieMap<std::string>& map, const std::unordered_map<uint64_t, std::string>& model) {
  REQUIRE(map.size() == model.size());
  for (const auto& [key, value] : model) {
    const std::string* found = map.find(key);
    REQUIRE(found);
    CHECK(*found == value);
  }
  size_t seen = 0;
  map.each([&](uint64_t key, const std::string& value) {
    ++seen;
    auto it = model.find(key);
    REQUIRE(it != model.end());
    CHECK(it->second == value);
  });
  CHECK(seen == model.size());
}

}  // namespace

TEST_CASE("a cookie map finds what was put in, made once, and nothing else") {
  CookieMap<std::string> map;
  CHECK(map.empty());
  CHECK(map.find(7) == nullptr);
  CHECK(!map.erase(7));
  auto [value, fresh] = map.try_emplace(7);
  CHECK(fresh);
  *value = "seven";
  auto [again, fresh_again] = map.try_emplace(7);
  CHECK(!fresh_again);
  CHECK(*again == "seven");
  CHECK(map.contains(7));
  CHECK(!map.contains(8));
  CHECK(map.size() == 1);
}

TEST_CASE("key 0 is a key like any other") {
  CookieMap<std::string> map;
  CHECK(!map.contains(0));
  *map.try_emplace(0).first = "zero";
  *map.try_emplace(1).first = "one";
  CHECK(map.size() == 2);
  CHECK(*map.find(0) == "zero");
  size_t visits = 0;
  map.each([&](uint64_t, const std::string&) { ++visits; });
  CHECK(visits == 2);
  CHECK(map.erase(0));
  CHECK(!map.contains(0));
  CHECK(*map.find(1) == "one");
  CHECK(map.size() == 1);
}

TEST_CASE("a cookie map agrees with std::unordered_map through growth and random erases") {
  // Sequential keys (socket cookies), strided ones (struct sock addresses), random ones.
  const auto keys = GENERATE(as<std::string>{}, "sequential", "strided", "random");
  std::mt19937_64 rng(42);
  auto key_of = [&](uint64_t n) -> uint64_t {
    if (keys == "sequential") return 4096 + n;
    if (keys == "strided") return 0xffff888100000000ull + n * 2048;
    return rng() % 3000 == 0 ? 0 : rng();
  };
  CookieMap<std::string> map;
  std::unordered_map<uint64_t, std::string> model;
  std::vector<uint64_t> inserted;
  for (uint64_t n = 0; n < 20000; ++n) {
    const uint64_t key = key_of(n);
    inserted.push_back(key);
    *map.try_emplace(key).first = std::to_string(n);
    model[key] = std::to_string(n);
    // Erase about a third, some of them absent, in clusters that force shifts.
    if (rng() % 3 == 0) {
      const uint64_t victim = inserted[rng() % inserted.size()];
      CHECK(map.erase(victim) == (model.erase(victim) == 1));
    }
  }
  check_same(map, model);
  // erase_if sees every entry once and removes exactly the chosen ones.
  size_t asked = 0;
  const size_t erased = map.erase_if([&](uint64_t key, const std::string&) {
    ++asked;
    return key % 2 == 0;
  });
  CHECK(asked == model.size());
  CHECK(erased == std::erase_if(model, [](const auto& e) { return e.first % 2 == 0; }));
  check_same(map, model);
  map.clear();
  CHECK(map.empty());
  CHECK(map.find(inserted.front()) == nullptr);
}
