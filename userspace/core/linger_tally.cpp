#include "core/linger_tally.h"

#include <algorithm>

namespace sockleak {
namespace {

// One less of a count that must hold it; false (and no change) when it does not.
bool take_one(uint32_t& count) {
  if (count == 0) return false;
  --count;
  return true;
}

}  // namespace

void LingerTally::apply(const Share& share, int sign) {
  const LingeringSocket& s = share.socket;
  const bool close_wait = s.state == TcpState::kCloseWait;
  const uint64_t start = s.linger_start();
  Ages& ages = close_wait ? close_wait_ : established_;
  uint32_t& total = close_wait ? totals_.close_wait : totals_.established;
  if (sign > 0) {
    ++total;
    totals_.unowned += share.holders.empty() ? 1 : 0;
    ages.starts.add(start);
    ages.start_sum += start;
  } else if (take_one(total) && (!share.holders.empty() || take_one(totals_.unowned))) {
    ages.starts.remove(start);
    ages.start_sum -= start;
  } else {
    ++unmatched_groups_;
    return;
  }
  share.holders.each([&](const HolderSet::Holder& h) {
    apply_to_group(GroupKey{h.process, s.state, share.listen}, share, start, sign);
  });
}

void LingerTally::apply_to_group(const GroupKey& key, const Share& share, uint64_t start, int sign) {
  const LingeringSocket& s = share.socket;
  auto it = groups_.find(key);
  if (it == groups_.end()) {
    if (sign < 0) {
      ++unmatched_groups_;
      return;
    }
    it = groups_.emplace(key, Group{}).first;
  }
  Group& g = it->second;
  // The oldest socket's start sorts first; of equal starts, an exact one before a bound.
  const uint64_t start_key = start * 2 + (s.state == TcpState::kCloseWait && s.since_is_lower_bound ? 1 : 0);
  const uint32_t unread = s.unread_bytes();
  const PeerKey peer{s.peer, unread > 0};
  g.peers_changed = true;
  if (sign > 0) {
    ++g.count;
    g.starts.add(start_key);
    g.peers.add(peer);
    g.unread_count += unread > 0 ? 1 : 0;
    g.unread_bytes += unread;
    ++g.netns[s.netns];
    g.call_sites.add(s, share.capture);
    return;
  }
  if (!take_one(g.count)) {
    ++unmatched_groups_;
    return;
  }
  g.starts.remove(start_key);
  g.peers.remove(peer);
  if (unread > 0 && take_one(g.unread_count)) g.unread_bytes -= std::min<uint64_t>(g.unread_bytes, unread);
  if (auto ns = g.netns.find(s.netns); ns != g.netns.end() && --ns->second == 0) g.netns.erase(ns);
  g.call_sites.remove(s, share.capture);
  if (g.count == 0) {
    // Its pending removals are applied and checked before it goes: a group of no sockets
    // has nothing left, and no removal without a match.
    const bool left = !g.starts.empty() || !g.peers.empty();
    unmatched_groups_ += g.starts.unmatched_removals() + g.peers.unmatched_removals() + (left ? 1 : 0);
    groups_.erase(it);
  }
}

std::vector<PeerCount> LingerTally::top_peers(const std::vector<PeerKey>& peers) {
  std::vector<PeerCount> best;  // most sockets first; of equal counts, the lower address
  for (size_t i = 0; i < peers.size();) {
    PeerCount run{peers[i].peer, 0, 0};
    for (; i < peers.size() && peers[i].peer == run.peer; ++i) {
      ++run.count;
      run.unread += peers[i].unread ? 1 : 0;
    }
    if (best.size() == kTopPeers && run.count <= best.back().count) continue;
    auto at = std::upper_bound(best.begin(), best.end(), run.count,
                               [](uint32_t count, const PeerCount& p) { return count > p.count; });
    best.insert(at, run);
    if (best.size() > kTopPeers) best.pop_back();
  }
  return best;
}

LingerGroup LingerTally::group_of(const GroupKey& key, const Group& g, uint64_t now_ns) const {
  LingerGroup out;
  std::tie(out.process, out.state, out.listen) = key;
  out.count = g.count;
  const uint64_t oldest = g.starts.items().front();
  const uint64_t start = oldest / 2;
  out.oldest = Nanos(now_ns > start ? now_ns - start : 0);
  out.oldest_is_lower_bound = (oldest & 1) != 0;
  if (g.peers_changed) {
    g.top_peers = top_peers(g.peers.items());
    g.peers_changed = false;
  }
  out.top_peers = g.top_peers;
  out.unread_count = g.unread_count;
  out.unread_bytes = g.unread_bytes;
  out.call_sites = g.call_sites.most(kTopCallSites);
  for (const auto& [netns, sockets] : g.netns) out.netns.push_back(netns);
  return out;
}

AgeHistogram LingerTally::Ages::at(uint64_t now_ns) const {
  const std::vector<uint64_t>& sorted = starts.items();
  AgeHistogram h;
  h.count = sorted.size();
  // The sum of ages: now * count - the sum of starts (not negative: no start is later than now).
  const Sum now_sum = static_cast<Sum>(now_ns) * sorted.size();
  const long double sum_ns = now_sum >= start_sum ? static_cast<long double>(now_sum - start_sum) : 0.0L;
  h.sum_seconds = static_cast<double>(sum_ns / 1e9L);
  // age <= bound  <=>  start >= now - bound: count those between consecutive bounds.
  size_t counted = 0;
  for (size_t i = 0; i < AgeHistogram::kBounds.size(); ++i) {
    const auto bound_ns = static_cast<uint64_t>(AgeHistogram::kBounds[i] * 1e9);
    const uint64_t from = now_ns > bound_ns ? now_ns - bound_ns : 0;
    const auto within = static_cast<size_t>(sorted.end() - std::lower_bound(sorted.begin(), sorted.end(), from));
    h.in_bucket[i] = within - counted;
    counted = within;
  }
  return h;
}

LingerReport LingerTally::report(uint64_t now_ns, const std::map<ProcessKey, std::string>& names) const {
  LingerReport report;
  report.groups.reserve(groups_.size());
  for (const auto& [key, g] : groups_) {
    report.groups.push_back(group_of(key, g, now_ns));
    if (auto name = names.find(report.groups.back().process); name != names.end()) {
      report.groups.back().name = name->second;
    }
  }
  std::stable_sort(report.groups.begin(), report.groups.end(), [](const LingerGroup& a, const LingerGroup& c) {
    return std::tie(c.count, a.process.pid) < std::tie(a.count, c.process.pid);
  });
  report.totals = totals_;
  report.close_wait_ages = close_wait_.at(now_ns);
  report.established_ages = established_.at(now_ns);
  return report;
}

uint64_t LingerTally::unmatched() const {
  uint64_t n = unmatched_groups_ + close_wait_.starts.unmatched_removals() + established_.starts.unmatched_removals();
  for (const auto& [key, g] : groups_) n += g.starts.unmatched_removals() + g.peers.unmatched_removals();
  return n;
}

}  // namespace sockleak
