// LingerTally: what a report adds up, kept up to date one socket at a time. Each lingering
// socket's share (one socket in each of its holders' groups, one in the host totals and in
// its state's age histogram) is added when the table counts it and taken back, exactly,
// before anything it was counted from changes. A report after a few changes costs a few
// updates and one sequential pass over sorted vectors, never a recount of 100k sockets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/holder_set.h"
#include "core/linger_report.h"
#include "core/sorted_bag.h"

namespace sockleak {

class LingerTally {
 public:
  static constexpr size_t kTopPeers = 5;
  static constexpr size_t kTopCallSites = 3;

  // One socket's share: its reading, who holds it (empty: nobody; counted in the totals as
  // unowned), for a socket no process accepted, the address its listener is bound to, and
  // who captured its call site (if it has one).
  struct Share {
    const LingeringSocket& socket;
    const HolderSet& holders;
    std::optional<Endpoint> listen;
    const LingeringSocket::Capture* capture = nullptr;
  };
  void add(const Share& share) { apply(share, +1); }
  // The share as it was added: the same reading, holders and listen address.
  void remove(const Share& share) { apply(share, -1); }
  void clear() { *this = LingerTally{}; }

  // Groups (most sockets first, named from names), totals and age histograms at now_ns.
  LingerReport report(uint64_t now_ns, const std::map<ProcessKey, std::string>& names) const;
  // Shares taken back that were never added (0 unless the table's bookkeeping is wrong).
  uint64_t unmatched() const;

 private:
  // One socket's peer, and whether it has unread data: a group holds one per socket.
  struct PeerKey {
    Endpoint peer;
    bool unread = false;
    auto operator<=>(const PeerKey&) const = default;
  };
  struct Group {
    uint32_t count = 0;
    uint32_t unread_count = 0;
    uint64_t unread_bytes = 0;
    SortedBag<uint64_t> starts;  // per socket: linger start * 2 + 1 if only a lower bound
    SortedBag<PeerKey> peers;
    std::map<uint32_t, uint32_t> netns;  // namespace -> sockets
    CallSiteTally call_sites;
    mutable std::vector<PeerCount> top_peers;  // of peers, counted again only after a change
    mutable bool peers_changed = false;
  };
  // Sums of 100k nanosecond timestamps need more than 64 bits to stay exact.
  __extension__ using Sum = unsigned __int128;
  // Sockets' linger starts in one state, for its histogram.
  struct Ages {
    SortedBag<uint64_t> starts;
    Sum start_sum = 0;
    AgeHistogram at(uint64_t now_ns) const;
  };
  using GroupKey = std::tuple<ProcessKey, TcpState, std::optional<Endpoint>>;

  void apply(const Share& share, int sign);
  void apply_to_group(const GroupKey& key, const Share& share, uint64_t start, int sign);
  static std::vector<PeerCount> top_peers(const std::vector<PeerKey>& peers);
  LingerGroup group_of(const GroupKey& key, const Group& g, uint64_t now_ns) const;

  std::map<GroupKey, Group> groups_;
  HostTotals totals_;
  Ages close_wait_;
  Ages established_;
  uint64_t unmatched_groups_ = 0;  // removals from a group that had no share
};

}  // namespace sockleak
