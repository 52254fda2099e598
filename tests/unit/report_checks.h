// Field-by-field checks that two reports say the same (Catch CHECKs, so a difference names
// the field).
#pragma once

#include <catch2/catch.hpp>

#include "core/linger_report.h"

namespace sockleak::test {

inline void check_same_group(const LingerGroup& a, const LingerGroup& b) {
  CHECK(a.process == b.process);
  CHECK(a.name == b.name);
  CHECK(a.state == b.state);
  CHECK(a.count == b.count);
  CHECK(a.oldest == b.oldest);
  CHECK(a.oldest_is_lower_bound == b.oldest_is_lower_bound);
  REQUIRE(a.top_peers.size() == b.top_peers.size());
  for (size_t i = 0; i < a.top_peers.size(); ++i) {
    CHECK(a.top_peers[i].peer == b.top_peers[i].peer);
    CHECK(a.top_peers[i].count == b.top_peers[i].count);
    CHECK(a.top_peers[i].unread == b.top_peers[i].unread);
  }
  CHECK(a.unread_count == b.unread_count);
  CHECK(a.unread_bytes == b.unread_bytes);
  REQUIRE(a.call_sites.size() == b.call_sites.size());
  for (size_t i = 0; i < a.call_sites.size(); ++i) {
    CHECK(a.call_sites[i].stack_id == b.call_sites[i].stack_id);
    CHECK(a.call_sites[i].count == b.call_sites[i].count);
    CHECK(a.call_sites[i].captured_in == b.call_sites[i].captured_in);
  }
  CHECK(a.netns == b.netns);
  CHECK(a.listen == b.listen);
}

inline void check_same_ages(const AgeHistogram& a, const AgeHistogram& b) {
  CHECK(a.count == b.count);
  CHECK(a.in_bucket == b.in_bucket);
  CHECK(a.sum_seconds == Approx(b.sum_seconds).margin(1e-6));
}

inline void check_same_report(const LingerReport& a, const LingerReport& b) {
  CHECK(a.totals.close_wait == b.totals.close_wait);
  CHECK(a.totals.established == b.totals.established);
  CHECK(a.totals.unowned == b.totals.unowned);
  check_same_ages(a.close_wait_ages, b.close_wait_ages);
  check_same_ages(a.established_ages, b.established_ages);
  REQUIRE(a.groups.size() == b.groups.size());
  for (size_t i = 0; i < a.groups.size(); ++i) check_same_group(a.groups[i], b.groups[i]);
}

}  // namespace sockleak::test
