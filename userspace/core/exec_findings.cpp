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
  std::map<ProcessKey, LingerGroup> groups;
  std::map<ProcessKey, std::map<Endpoint, PeerCount>> peers;
  std::map<ProcessKey, std::map<uint32_t, LingerGroup::CallSiteCount>> sites;
  std::map<ProcessKey, std::set<uint32_t>> netns;
  for (const auto& [cookie, exit] : exits_) {
    const LingeringSocket& s = exit.socket;
    LingerGroup& g = groups[s.owner];
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
    PeerCount& p = peers[s.owner][s.peer];
    p.peer = s.peer;
    ++p.count;
    p.unread += unread ? 1 : 0;
    if (s.stack_id != SL_NO_STACK) {
      LingerGroup::CallSiteCount& site = sites[s.owner][s.stack_id];
      site.stack_id = s.stack_id;
      ++site.count;
      if (s.capture) {
        site.captured_in = s.capture->process;
        site.exe = s.capture->exe;
      }
    }
    netns[s.owner].insert(s.netns);
  }
  std::vector<LingerGroup> out;
  for (auto& [process, g] : groups) {
    for (const auto& [endpoint, count] : peers[process]) g.top_peers.push_back(count);
    most_first(g.top_peers, [](const PeerCount& p) { return p.count; }, SocketTable::kTopPeers);
    for (const auto& [id, site] : sites[process]) g.call_sites.push_back(site);
    most_first(g.call_sites, [](const LingerGroup::CallSiteCount& c) { return c.count; }, SocketTable::kTopCallSites);
    g.netns.assign(netns[process].begin(), netns[process].end());
    out.push_back(std::move(g));
  }
  most_first(out, [](const LingerGroup& g) { return g.count; }, out.size());
  return out;
}

}  // namespace sockleak
