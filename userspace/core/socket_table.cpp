#include "core/socket_table.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <tuple>

namespace sockleak {
namespace {

Endpoint endpoint(uint16_t family, const uint8_t (&addr)[SL_ADDR_LEN], uint16_t port) {
  Endpoint e;
  e.family = family;
  e.port = port;
  std::memcpy(e.address.data(), addr, SL_ADDR_LEN);
  return e;
}

std::string comm_of(const sl_sock_row& row) {
  return std::string(row.comm, strnlen(row.comm, sizeof row.comm));
}

// Listeners of one port in one namespace and address family.
uint64_t port_key(uint32_t netns, const Endpoint& e) {
  return static_cast<uint64_t>(netns) << 32 | static_cast<uint64_t>(e.family) << 16 | e.port;
}

bool is_wildcard(const Endpoint& e) {
  return std::all_of(e.address.begin(), e.address.end(), [](uint8_t b) { return b == 0; });
}

struct GroupBuilder {
  LingerGroup group;
  uint64_t oldest_start = 0;  // linger start of its oldest socket
  // One per socket: its peer, unread data or not. A deque: 100k of them grow without the
  // copy and twice the room a vector's doubling takes.
  std::deque<std::pair<Endpoint, bool>> peers;
  std::map<uint32_t, LingerGroup::CallSiteCount> call_sites;  // by stack id
  std::set<uint32_t> netns;
};

// Whether a report would show the two readings of one socket alike: the same state, holder
// facts, call site and unread data, and the same linger start give or take the rounding of
// idle times to milliseconds.
bool same_report(const LingeringSocket& a, const LingeringSocket& b) {
  const uint64_t sa = a.linger_start();
  const uint64_t sb = b.linger_start();
  const uint64_t drift = sa > sb ? sa - sb : sb - sa;
  return a.state == b.state && drift < 2'000'000 && a.since_is_lower_bound == b.since_is_lower_bound &&
         a.owner == b.owner && a.unaccepted == b.unaccepted && a.listener == b.listener &&
         a.stack_id == b.stack_id && a.unread_bytes() == b.unread_bytes() && a.untracked == b.untracked &&
         a.local == b.local && a.peer == b.peer && a.netns == b.netns;
}

}  // namespace

LingeringSocket LingeringSocket::from_row(const sl_sock_row& row, uint64_t seen_ns) {
  LingeringSocket s;
  s.cookie = row.cookie;
  s.state = static_cast<TcpState>(row.state);
  s.since_ns = row.since_ns;
  s.since_is_lower_bound = (row.flags & SL_ROW_SINCE_LOWER) != 0;
  s.idle_ns = row.idle_ms * 1'000'000;
  s.seen_ns = seen_ns;
  s.local = endpoint(row.family, row.local_addr, row.local_port);
  s.peer = endpoint(row.family, row.peer_addr, row.peer_port);
  s.netns = row.netns;
  s.rx_queue = row.rx_queue;
  s.stack_id = row.stack_id;
  if (row.capturer.tgid) {
    s.capture = std::make_shared<const Capture>(Capture{ProcessKey{row.capturer.tgid, row.capturer.start},
                                                        ExeId{row.capturer.exe_ino, row.capturer.exe_dev, row.capturer.layout}});
  }
  s.owner = ProcessKey{row.tgid, row.tgid ? row.proc_start : 0};
  s.unaccepted = (row.flags & SL_ROW_UNACCEPTED) != 0;
  s.listener = s.unaccepted ? row.listener : 0;
  s.untracked = (row.flags & SL_ROW_UNTRACKED) != 0;
  return s;
}

Nanos LingeringSocket::age(uint64_t now_ns) const {
  if (state == TcpState::kCloseWait) return Nanos(now_ns > since_ns ? now_ns - since_ns : 0);
  return Nanos(idle_ns + (now_ns > seen_ns ? now_ns - seen_ns : 0));
}

uint64_t LingeringSocket::linger_start() const {
  if (state == TcpState::kCloseWait) return since_ns;
  return seen_ns > idle_ns ? seen_ns - idle_ns : 0;
}

void AgeHistogram::add(double seconds) {
  for (size_t i = 0; i < kBounds.size(); ++i) {
    if (seconds <= kBounds[i]) {
      ++in_bucket[i];
      break;
    }
  }
  ++count;
  sum_seconds += seconds;
}

uint32_t LingeringSocket::unread_bytes() const {
  if (state == TcpState::kCloseWait) return rx_queue > 0 ? rx_queue - 1 : 0;
  return rx_queue;
}

bool GroupFilter::accepts(const LingerGroup& group) const {
  if (group.count < min_count) return false;
  if (!pids.empty() && !pids.contains(group.process.pid)) return false;
  if (!comms.empty() && !comms.contains(group.name)) return false;
  if (processes && !processes->contains(group.process)) return false;
  return true;
}

void SocketTable::apply(const sl_event& event) {
  ++counters_.events;
  const ProcessKey actor{event.tgid, event.proc_start};
  // Reports count lingering sockets only: an event about any other socket (most of them,
  // on a busy host) changes nothing they show, and must not make the next one recount 100k.
  // Holders of a socket that lingers later are read when a scan reports it (a change).
  auto it = lingering_.find(event.cookie);
  if (it != lingering_.end()) changed();
  switch (event.kind) {
    case SL_EV_STATE: {
      const auto next = static_cast<TcpState>(event.new_state);
      if (it != lingering_.end() && it->second.state != next) lingering_.erase(it);
      if (!is_linger_state(next)) {
        holders_.erase(event.cookie);
        orphans_.erase(event.cookie);
      }
      break;
    }
    case SL_EV_FD_CLOSE: {
      if (event.tgid == 0) break;  // a process sockleak's pid namespace cannot see
      if (auto held = holders_.find(event.cookie); held != holders_.end()) held->second.holders.release(actor);
      if (event.inode != 0) holder_checks_.push_back({event.cookie, actor, event.inode});
      if (it != lingering_.end() && it->second.owner == actor) it->second.owner = ProcessKey{};
      break;
    }
    case SL_EV_CLOSE_RANGE:
      if (event.tgid != 0) reconcile_requested_ = true;
      break;
    default:
      break;
  }
}

void SocketTable::apply_scan(std::span<const sl_sock_row> rows, uint64_t now_ns, ScanRows kind) {
  begin_scan(kind);
  add_scan_rows(rows, now_ns);
  finish_scan();
}

void SocketTable::begin_scan(ScanRows kind) {
  scan_kind_ = kind;
  scan_rows_ = 0;
  scan_news_ = false;
  ++scan_mark_;
}

void SocketTable::add_scan_rows(std::span<const sl_sock_row> rows, uint64_t now_ns) {
  scan_rows_ += rows.size();
  for (const sl_sock_row& row : rows) {
    if (row.flags & SL_ROW_RETIRED) {
      if (scan_kind_ == ScanRows::kChanges) lingering_.erase(row.cookie);
      continue;
    }
    LingeringSocket socket = LingeringSocket::from_row(row, now_ns);
    socket.scan_mark = scan_mark_;
    // Accepted since the last scan: only the fd tables say by whom.
    auto before = lingering_.find(row.cookie);
    if (before != lingering_.end() && before->second.unaccepted && !socket.unaccepted) {
      reconcile_requested_ = true;
    }
    if (before == lingering_.end() || !same_report(before->second, socket)) scan_news_ = true;
    lingering_.insert_or_assign(row.cookie, std::move(socket));
  }
}

void SocketTable::finish_scan() {
  if (scan_kind_ == ScanRows::kAll) {
    // A full scan names every lingering socket of the map: the others no longer linger.
    // Untracked sockets are not in the map: the next reconcile replaces them.
    if (std::erase_if(lingering_, [this](const auto& entry) {
          return entry.second.scan_mark != scan_mark_ && !entry.second.untracked;
        }) > 0) {
      scan_news_ = true;
    }
  } else if (scan_rows_ > 0) {
    scan_news_ = true;  // retired rows, or sockets reported again
  }
  // A full scan that read every socket as it was (the common case) leaves reports as they are.
  if (scan_news_) changed();
}

void SocketTable::apply_reconcile(std::span<const sl_sock_row> rows, uint64_t now_ns, HolderRows kind) {
  begin_reconcile(now_ns);
  add_reconcile_rows(rows);
  finish_reconcile(kind);
}

void SocketTable::begin_reconcile(uint64_t now_ns) {
  reading_ = ReconcileReading{};
  reading_.now_ns = now_ns;
  reading_.mark = ++reconciles_read_;
  // Untracked sockets are only in reconciles: this one's replace the last one's.
  reading_.untracked_before = !untracked_cookies_.empty() || !read_whole_.empty();
  read_whole_ = {};
  read_whole_sockets_ = 0;
  for (uint64_t cookie : untracked_cookies_) {
    auto it = lingering_.find(cookie);
    if (it != lingering_.end() && it->second.untracked) lingering_.erase(it);
  }
  untracked_cookies_.clear();
}

void SocketTable::add_reconcile_rows(std::span<const sl_sock_row> rows) {
  ReconcileReading& r = reading_;
  for (const sl_sock_row& row : rows) {
    if (!(row.flags & SL_ROW_HOLDER)) continue;
    const ProcessKey key{row.tgid, row.proc_start};
    // Rows come a process at a time; brief ones name it only in the first of them.
    if (r.last_named != key && row.comm[0] != '\0') {
      r.names.insert_or_assign(key, comm_of(row));
      r.last_named = key;
    }
    if (row.flags & SL_ROW_LISTENER) {
      Listener& l = r.listeners[row.cookie];
      l.local = endpoint(row.family, row.local_addr, row.local_port);
      l.netns = row.netns;
      l.holders.add(key);
      continue;
    }
    if ((row.flags & SL_ROW_UNTRACKED) && one_shot_) {
      const LingeringSocket s = LingeringSocket::from_row(row, r.now_ns);
      read_whole_.push_back({row.cookie, s.linger_start(), key, s.peer, s.netns, s.rx_queue,
                             static_cast<uint8_t>(s.state), s.since_is_lower_bound});
      continue;
    }
    if ((row.flags & SL_ROW_UNTRACKED) &&
        lingering_.try_emplace(row.cookie, LingeringSocket::from_row(row, r.now_ns)).second) {
      untracked_cookies_.push_back(row.cookie);
    }
    read_holder(row.cookie, key);
  }
}

void SocketTable::read_holder(uint64_t cookie, const ProcessKey& key) {
  ReconcileReading& r = reading_;
  auto [it, fresh] = holders_.try_emplace(cookie);
  Held& held = it->second;
  if (held.read_by == r.mark) {  // another fd or holder of a socket read already
    // Known before and read as it was so far: what was known is what it holds now.
    if (held.added_by != r.mark && !r.before.contains(cookie)) r.before.emplace(cookie, held.holders);
    held.holders.add(key);
    return;
  }
  held.read_by = r.mark;
  ++r.sockets;
  orphans_.erase(cookie);
  HolderSet now = HolderSet::of(key);
  if (fresh) {
    held.added_by = r.mark;
    ++r.added;
  } else if (held.holders != now) {
    r.before.emplace(cookie, std::move(held.holders));
  }
  held.holders = std::move(now);
}

void SocketTable::finish_reconcile(HolderRows kind) {
  const bool all = kind == HolderRows::kAll;
  ReconcileReading r = std::exchange(reading_, ReconcileReading{});
  // Counts a holder fact the events had wrong or missed; true when the reconcile changed it.
  auto corrected = [this](const HolderSet* before, const HolderSet* now) {
    const bool held_now = now != nullptr;
    if ((held_now || (before && !before->empty())) && (!held_now || !before || *now != *before)) {
      ++counters_.reconcile_corrections;
      return true;
    }
    return !held_now;
  };
  // Whether anything a report shows may differ. A reconcile of new sockets says nothing of
  // the others (what it names replaces, the rest stays); a full one that found the fd
  // tables as they were (the common case) leaves reports as they are.
  std::sort(read_whole_.begin(), read_whole_.end(), [](const ReadWhole& a, const ReadWhole& b) {
    return std::tie(a.cookie, a.holder) < std::tie(b.cookie, b.holder);
  });
  for (size_t i = 0; i < read_whole_.size(); ++i) {
    if (i == 0 || read_whole_[i].cookie != read_whole_[i - 1].cookie) ++read_whole_sockets_;
  }
  bool news = !untracked_cookies_.empty() || !read_whole_.empty() || r.untracked_before ||
              r.listeners != listeners_ || r.added > 0 ||
              (all ? r.names != names_ : r.sockets > 0);
  // Holders this reconcile changed, against what was known of them (a socket new to the
  // table is news, no correction).
  for (const auto& [cookie, before] : r.before) {
    if (corrected(&before, &holders_.at(cookie).holders)) news = true;
  }
  if (all) {
    // What it did not read, nobody holds now.
    std::erase_if(holders_, [&](const auto& entry) {
      if (entry.second.read_by == r.mark) return false;
      if (corrected(&entry.second.holders, nullptr)) news = true;
      return true;
    });
    std::unordered_set<uint64_t> orphans;
    for (const auto& [cookie, socket] : lingering_) {
      if (!holders_.contains(cookie)) orphans.insert(cookie);
    }
    if (orphans != orphans_) news = true;
    orphans_ = std::move(orphans);
    names_ = std::move(r.names);
  } else {
    for (auto& [key, name] : r.names) names_.insert_or_assign(key, std::move(name));
  }
  listeners_ = std::move(r.listeners);
  listeners_by_port_.clear();
  for (const auto& [id, l] : listeners_) listeners_by_port_.emplace(port_key(l.netns, l.local), id);
  if (all) reconcile_requested_ = false;
  ++counters_.reconciles;
  if (news) changed();  // a reconcile that found nothing new leaves reports as they are
}

void SocketTable::confirm_holder(const HolderCheck& check, uint32_t fds_open) {
  auto held = holders_.find(check.cookie);
  if (held == holders_.end()) return;
  auto it = lingering_.find(check.cookie);
  if (it != lingering_.end()) changed();  // reports show lingering sockets' holders only
  held->second.holders.set_fds(check.process, fds_open);
  if (fds_open == 0) return;
  // Still held: the close did not make the owner unknown either.
  if (it != lingering_.end() && it->second.owner.pid == 0) it->second.owner = check.process;
}

const SocketTable::Listener* SocketTable::listener_of(const LingeringSocket& socket) const {
  if (auto tagged = listeners_.find(socket.listener); socket.listener && tagged != listeners_.end()) {
    return &tagged->second;
  }
  const Listener* exact = nullptr;
  const Listener* wildcard = nullptr;
  int exact_count = 0;
  int wildcard_count = 0;
  auto [first, last] = listeners_by_port_.equal_range(port_key(socket.netns, socket.local));
  for (auto it = first; it != last; ++it) {
    const Listener& l = listeners_.at(it->second);
    if (l.local.address == socket.local.address) {
      exact = &l;
      ++exact_count;
    } else if (is_wildcard(l.local)) {
      wildcard = &l;
      ++wildcard_count;
    }
  }
  // The kernel prefers a listener bound to the address over one bound to any address.
  if (exact_count > 0) return exact_count == 1 ? exact : nullptr;
  return wildcard_count == 1 ? wildcard : nullptr;
}

HolderSet SocketTable::holders_of(const LingeringSocket& socket, bool* read) const {
  if (socket.unaccepted) {
    const Listener* listener = listener_of(socket);
    if (read) *read = listener != nullptr;  // held by its listener's holders: known once it is
    return listener ? listener->holders : HolderSet{};
  }
  auto held = holders_.find(socket.cookie);
  if (held == holders_.end()) {
    // A socket read whole that a scan read since (the state hook added it meanwhile).
    if (auto whole = read_whole_holders(socket.cookie)) {
      if (read) *read = true;
      return *whole;
    }
  }
  if (read) *read = held != holders_.end();
  if (held != holders_.end() && !held->second.holders.empty()) return held->second.holders;
  if (socket.owner.pid != 0 && !orphans_.contains(socket.cookie)) return HolderSet::of(socket.owner);
  return {};
}

std::optional<HolderSet> SocketTable::read_whole_holders(uint64_t cookie) const {
  auto first = std::lower_bound(read_whole_.begin(), read_whole_.end(), cookie,
                                [](const ReadWhole& r, uint64_t c) { return r.cookie < c; });
  if (first == read_whole_.end() || first->cookie != cookie) return std::nullopt;
  HolderSet holders;
  for (auto it = first; it != read_whole_.end() && it->cookie == cookie; ++it) holders.add(it->holder);
  return holders;
}

LingeringSocket SocketTable::socket_of(const ReadWhole& row) {
  LingeringSocket s;
  s.cookie = row.cookie;
  s.state = static_cast<TcpState>(row.state);
  s.since_ns = row.start;  // linger_start() is start in either state
  s.seen_ns = row.start;
  s.since_is_lower_bound = row.since_is_lower_bound;
  s.owner = row.holder;
  s.peer = row.peer;
  s.netns = row.netns;
  s.rx_queue = row.rx_queue;
  s.untracked = true;
  return s;
}

SocketTable::Reconcile SocketTable::reconcile_needed(const AliveFn& alive) const {
  if (reconcile_requested_) return Reconcile::kAll;
  const HolderBasis& b = holder_basis();
  // Each process asked about once: asking reads /proc.
  if (!std::all_of(b.holding.begin(), b.holding.end(), alive)) return Reconcile::kAll;
  return b.unread || !untracked_cookies_.empty() ? Reconcile::kNew : Reconcile::kNone;
}

const SocketTable::HolderBasis& SocketTable::holder_basis() const {
  HolderBasis& b = holder_basis_;
  if (b.version != version_) {
    b = HolderBasis{version_, false, false, {}};
    for (const auto& [cookie, socket] : lingering_) {
      // Report holders read from the fd tables, not just the connect/accept owner: a fork,
      // dup2 or exec since then is invisible to events.
      bool read = false;
      const HolderSet holders = holders_of(socket, &read);
      if ((holders.empty() || !read) && !orphans_.contains(cookie)) b.unread = true;
      size_t processes = 0;
      holders.each([&](const HolderSet::Holder& h) {
        b.holding.insert(h.process);
        ++processes;
      });
      // A queued socket's holders are its listener's: nobody closes it by its own fd.
      if (processes > 1 && !socket.unaccepted) b.shared = true;
    }
  }
  return b;
}

void SocketTable::rebuild_basis(const Thresholds& thresholds, uint64_t now_ns) const {
  ++report_rebuilds_;
  ReportBasis& basis = basis_;
  basis = ReportBasis{};
  basis.version = version_;
  basis.thresholds = thresholds;
  basis.valid_until_ns = UINT64_MAX;
  // Sockets a process holds and those queued on its listeners are separate groups.
  // Room for every socket's start at once (a doubling vector would peak at twice it).
  size_t in_close_wait = 0;
  for (const auto& entry : lingering_) in_close_wait += entry.second.state == TcpState::kCloseWait ? 1 : 0;
  for (const ReadWhole& r : read_whole_) in_close_wait += static_cast<TcpState>(r.state) == TcpState::kCloseWait ? 1 : 0;
  basis.close_wait_starts.reserve(in_close_wait);
  basis.established_starts.reserve(lingering_.size() + read_whole_.size() - in_close_wait);
  std::map<std::tuple<ProcessKey, TcpState, std::optional<Endpoint>>, GroupBuilder> groups;
  // One socket into the totals and the groups of its holders (holders_fn names them).
  const auto count = [&](const LingeringSocket& socket, const auto& holders_fn) {
    const Nanos age = socket.age(now_ns);
    const bool close_wait = socket.state == TcpState::kCloseWait;
    const Nanos threshold = close_wait ? thresholds.close_wait : thresholds.established_idle;
    const uint64_t start = socket.linger_start();
    if (age < threshold) {  // scans report only sockets past it: a reconcile's untracked one
      basis.valid_until_ns = std::min(basis.valid_until_ns, start + static_cast<uint64_t>(threshold.count()));
      return;
    }
    const HolderSet holders = holders_fn();
    if (holders.empty() && visible_only_) return;
    ++(close_wait ? basis.totals.close_wait : basis.totals.established);
    (close_wait ? basis.close_wait_starts : basis.established_starts).push_back(start);
    if (holders.empty()) ++basis.totals.unowned;
    std::optional<Endpoint> listen;
    if (socket.unaccepted && !holders.empty()) listen = listener_of(socket)->local;
    holders.each([&](const HolderSet::Holder& h) {
      const ProcessKey& process = h.process;
      GroupBuilder& b = groups[{process, socket.state, listen}];
      LingerGroup& g = b.group;
      g.process = process;
      g.state = socket.state;
      g.listen = listen;
      if (g.count++ == 0 || start < b.oldest_start) {
        b.oldest_start = start;
        g.oldest_is_lower_bound = close_wait && socket.since_is_lower_bound;
      }
      const uint32_t unread = socket.unread_bytes();
      b.peers.emplace_back(socket.peer, unread > 0);
      if (unread) {
        ++g.unread_count;
        g.unread_bytes += unread;
      }
      b.netns.insert(socket.netns);
      if (socket.stack_id != SL_NO_STACK) {
        LingerGroup::CallSiteCount& site = b.call_sites[socket.stack_id];
        site.stack_id = socket.stack_id;
        ++site.count;
        if (socket.capture) {
          site.captured_in = socket.capture->process;
          site.exe = socket.capture->exe;
        }
      }
    });
  };
  for (const auto& entry : lingering_) {
    count(entry.second, [&] { return holders_of(entry.second); });
  }
  for (auto run = read_whole_.begin(); run != read_whole_.end();) {
    const auto end = std::find_if(run, read_whole_.end(), [&](const ReadWhole& r) { return r.cookie != run->cookie; });
    if (!lingering_.contains(run->cookie)) {  // else a scan read it since: that reading counts
      count(socket_of(*run), [&] {
        HolderSet holders;
        for (auto it = run; it != end; ++it) holders.add(it->holder);
        return holders;
      });
    }
    run = end;
  }
  for (auto& [key, b] : groups) {
    LingerGroup& g = b.group;
    if (auto name = names_.find(g.process); name != names_.end()) g.name = name->second;
    // Counted by sorting (a vector of 24-byte pairs, not a tree node per peer: 100k sockets
    // may have 100k peers), in address order, so ties keep that order below.
    std::sort(b.peers.begin(), b.peers.end());
    for (const auto& [endpoint, unread] : b.peers) {
      if (g.top_peers.empty() || g.top_peers.back().peer != endpoint) g.top_peers.push_back(PeerCount{endpoint, 0, 0});
      ++g.top_peers.back().count;
      g.top_peers.back().unread += unread ? 1 : 0;
    }
    b.peers = {};
    std::stable_sort(g.top_peers.begin(), g.top_peers.end(),
                     [](const PeerCount& a, const PeerCount& c) { return a.count > c.count; });
    if (g.top_peers.size() > kTopPeers) g.top_peers.resize(kTopPeers);
    g.netns.assign(b.netns.begin(), b.netns.end());
    for (const auto& [id, site] : b.call_sites) g.call_sites.push_back(site);
    std::stable_sort(g.call_sites.begin(), g.call_sites.end(),
                     [](const auto& a, const auto& c) { return a.count > c.count; });
    if (g.call_sites.size() > kTopCallSites) g.call_sites.resize(kTopCallSites);
    basis.groups.push_back(std::move(g));
    basis.oldest_start.push_back(b.oldest_start);
  }
  std::vector<size_t> order(basis.groups.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t c) {
    const LingerGroup& ga = basis.groups[a];
    const LingerGroup& gc = basis.groups[c];
    return std::tie(gc.count, ga.process.pid) < std::tie(ga.count, gc.process.pid);
  });
  std::vector<LingerGroup> groups_sorted;
  std::vector<uint64_t> starts_sorted;
  for (size_t i : order) {
    groups_sorted.push_back(std::move(basis.groups[i]));
    starts_sorted.push_back(basis.oldest_start[i]);
  }
  basis.groups = std::move(groups_sorted);
  basis.oldest_start = std::move(starts_sorted);
  std::sort(basis.close_wait_starts.begin(), basis.close_wait_starts.end());
  std::sort(basis.established_starts.begin(), basis.established_starts.end());
  for (uint64_t start : basis.close_wait_starts) basis.close_wait_start_sum += static_cast<long double>(start);
  for (uint64_t start : basis.established_starts) basis.established_start_sum += static_cast<long double>(start);
}

namespace {

// Ages now of sockets whose linger started at starts (ascending), as AgeHistogram::add
// would count them one by one.
AgeHistogram histogram_of(const std::vector<uint64_t>& starts, long double start_sum, uint64_t now_ns) {
  AgeHistogram h;
  h.count = starts.size();
  const long double sum_ns = static_cast<long double>(now_ns) * static_cast<long double>(starts.size()) - start_sum;
  h.sum_seconds = static_cast<double>(sum_ns / 1e9L);
  // age <= bound  <=>  start >= now - bound: count those between consecutive bounds.
  size_t counted = 0;
  for (size_t i = 0; i < AgeHistogram::kBounds.size(); ++i) {
    const auto bound_ns = static_cast<uint64_t>(AgeHistogram::kBounds[i] * 1e9);
    const uint64_t from = now_ns > bound_ns ? now_ns - bound_ns : 0;
    const auto within = static_cast<size_t>(starts.end() - std::lower_bound(starts.begin(), starts.end(), from));
    h.in_bucket[i] = within - counted;
    counted = within;
  }
  return h;
}

}  // namespace

LingerReport SocketTable::report(const Thresholds& thresholds, uint64_t now_ns) const {
  if (basis_.version != version_ || !(basis_.thresholds == thresholds) || now_ns >= basis_.valid_until_ns) {
    rebuild_basis(thresholds, now_ns);
  }
  LingerReport report;
  report.groups = basis_.groups;
  for (size_t i = 0; i < report.groups.size(); ++i) {
    const uint64_t start = basis_.oldest_start[i];
    report.groups[i].oldest = Nanos(now_ns > start ? now_ns - start : 0);
  }
  report.totals = basis_.totals;
  report.close_wait_ages = histogram_of(basis_.close_wait_starts, basis_.close_wait_start_sum, now_ns);
  report.established_ages = histogram_of(basis_.established_starts, basis_.established_start_sum, now_ns);
  return report;
}

}  // namespace sockleak
