#include "core/exec_findings.h"

#include <algorithm>
#include <cstring>

namespace sockleak {
namespace {

template <typename T, typename Count>
void most_first(std::vector<T>& items, Count count, size_t keep) {
  std::stable_sort(items.begin(), items.end(), [&](const T& a, const T& b) { return count(a) > count(b); });
  if (items.size() > keep) items.resize(keep);
}

}  // namespace

void ExecFindings::add_report(const std::vector<ReportRow>& rows) {
  for (const ReportRow& row : rows) {
    const GroupKey key{row.group.process, row.group.state, row.group.listen};
    auto [it, fresh] = lingered_.try_emplace(key, row);
    if (fresh) continue;
    ReportRow& kept = it->second;
    const Nanos oldest = std::max(kept.group.oldest, row.group.oldest);
    if (row.group.count > kept.group.count) kept = row;  // the report with the most sockets speaks for the group
    kept.group.oldest = oldest;
  }
}

void ExecFindings::add_exit_close(const sl_exit_close& record) {
  Exit exit;
  exit.socket = LingeringSocket::from_row(record.row, record.head.ts_ns);
  exit.capture = LingeringSocket::capture_of(record.row);
  exit.closed_ns = record.head.ts_ns;
  exit.name.assign(record.row.comm, strnlen(record.row.comm, sizeof record.row.comm));
  exits_.try_emplace(record.head.cookie, std::move(exit));
}

std::vector<ReportRow> ExecFindings::lingered() const {
  std::vector<ReportRow> rows;
  for (const auto& [key, row] : lingered_) rows.push_back(row);
  most_first(rows, [](const ReportRow& r) { return r.group.count; }, rows.size());
  return rows;
}

std::vector<LingerGroup> ExecFindings::never_closed() const {
  // One per process: its group and what is counted per peer, call site and namespace.
  struct Builder {
    LingerGroup group;
    std::map<Endpoint, PeerCount> peers;
    CallSiteTally sites;
    std::set<uint32_t> netns;
  };
  std::map<ProcessKey, Builder> builders;
  for (const auto& [cookie, exit] : exits_) {
    const LingeringSocket& s = exit.socket;
    Builder& b = builders[s.owner];
    LingerGroup& g = b.group;
    g.process = s.owner;
    g.name = exit.name;
    g.state = TcpState::kCloseWait;
    ++g.count;
    const Nanos age = s.age(exit.closed_ns);
    if (age > g.oldest) {
      g.oldest = age;
      g.oldest_is_lower_bound = s.since_is_lower_bound;
    }
    const bool unread = s.unread_bytes() > 0;
    g.unread_count += unread ? 1 : 0;
    g.unread_bytes += s.unread_bytes();
    PeerCount& p = b.peers[s.peer];
    p.peer = s.peer;
    ++p.count;
    p.unread += unread ? 1 : 0;
    b.sites.add(s, exit.capture ? &*exit.capture : nullptr);
    b.netns.insert(s.netns);
  }
  std::vector<LingerGroup> out;
  for (auto& [process, b] : builders) {
    LingerGroup& g = b.group;
    for (const auto& [endpoint, count] : b.peers) g.top_peers.push_back(count);
    most_first(g.top_peers, [](const PeerCount& p) { return p.count; }, SocketTable::kTopPeers);
    g.call_sites = b.sites.most(SocketTable::kTopCallSites);
    g.netns.assign(b.netns.begin(), b.netns.end());
    out.push_back(std::move(g));
  }
  most_first(out, [](const LingerGroup& g) { return g.count; }, out.size());
  return out;
}

}  // namespace sockleak
