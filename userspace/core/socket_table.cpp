#include "core/socket_table.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <tuple>

namespace sockleak {
namespace {

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
  if (it != lingering_.end() && event.kind != SL_EV_CLOSE_RANGE) uncount(it->second);
  switch (event.kind) {
    case SL_EV_STATE: {
      const auto next = static_cast<TcpState>(event.new_state);
      if (it != lingering_.end() && it->second.state != next) erase_lingering(it);
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
  ++scan_mark_;
}

void SocketTable::add_scan_rows(std::span<const sl_sock_row> rows, uint64_t now_ns) {
  scan_rows_ += rows.size();
  for (const sl_sock_row& row : rows) {
    auto before = lingering_.find(row.cookie);
    if (row.flags & SL_ROW_RETIRED) {
      if (scan_kind_ == ScanRows::kChanges && before != lingering_.end()) {
        uncount(before->second);
        erase_lingering(before);
      }
      continue;
    }
    LingeringSocket socket = LingeringSocket::from_row(row, now_ns);
    socket.scan_mark = scan_mark_;
    if (before == lingering_.end()) {
      lingering_.emplace(row.cookie, std::move(socket));
      set_capture(row.cookie, row);
      queue(row.cookie);
      continue;
    }
    // Read as it was (give or take the rounding of its idle time): the reading it was
    // counted from stays.
    if (same_report(before->second, socket)) {
      before->second.scan_mark = scan_mark_;
      continue;
    }
    // Accepted since the last scan: only the fd tables say by whom.
    if (before->second.unaccepted && !socket.unaccepted) reconcile_requested_ = true;
    uncount(before->second);
    before->second = std::move(socket);
    set_capture(row.cookie, row);
  }
}

void SocketTable::set_capture(uint64_t cookie, const sl_sock_row& row) {
  if (auto capture = LingeringSocket::capture_of(row)) {
    captures_.insert_or_assign(cookie, *capture);
  } else if (!captures_.empty()) {
    captures_.erase(cookie);
  }
}

const LingeringSocket::Capture* SocketTable::capture_of(const LingeringSocket& socket) const {
  if (socket.stack_id == SL_NO_STACK || captures_.empty()) return nullptr;
  auto it = captures_.find(socket.cookie);
  return it == captures_.end() ? nullptr : &it->second;
}

SocketTable::Lingering::iterator SocketTable::erase_lingering(Lingering::iterator it) {
  if (!captures_.empty()) captures_.erase(it->first);
  return lingering_.erase(it);
}

void SocketTable::finish_scan() {
  if (scan_kind_ == ScanRows::kAll) {
    // A full scan names every lingering socket of the map: the others no longer linger.
    // Untracked sockets are not in the map: the next reconcile replaces them.
    for (auto it = lingering_.begin(); it != lingering_.end();) {
      if (it->second.scan_mark == scan_mark_ || it->second.untracked) {
        ++it;
        continue;
      }
      uncount(it->second);
      it = erase_lingering(it);
    }
  }
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
    if (it != lingering_.end() && it->second.untracked) {
      uncount(it->second);
      erase_lingering(it);
    }
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
      l.local = Endpoint::of(row.family, row.local_addr, row.local_port);
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
      queue(row.cookie);
    }
    read_holder(row.cookie, key);
  }
}

void SocketTable::read_holder(uint64_t cookie, const ProcessKey& key) {
  ReconcileReading& r = reading_;
  auto it = holders_.find(cookie);
  const bool fresh = it == holders_.end();
  if (fresh) {
    uncount(cookie);  // counted from its owner, or as unread, until now
    it = holders_.try_emplace(cookie).first;
  }
  Held& held = it->second;
  if (held.read_by == r.mark) {  // another fd or holder of a socket read already
    // Known before and read as it was so far: what was known is what it holds now.
    if (held.added_by != r.mark && !r.before.contains(cookie)) r.before.emplace(cookie, held.holders);
    uncount(cookie);
    held.holders.add(key);
    return;
  }
  held.read_by = r.mark;
  ++r.sockets;
  HolderSet now = HolderSet::of(key);
  // Lookups of lingering sockets only for a change: most rows confirm what was known.
  if (held.holders != now || orphans_.contains(cookie)) uncount(cookie);
  orphans_.erase(cookie);
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
    }
  };
  std::sort(read_whole_.begin(), read_whole_.end(), [](const ReadWhole& a, const ReadWhole& b) {
    return std::tie(a.cookie, a.holder) < std::tie(b.cookie, b.holder);
  });
  for (size_t i = 0; i < read_whole_.size(); ++i) {
    if (i == 0 || read_whole_[i].cookie != read_whole_[i - 1].cookie) ++read_whole_sockets_;
  }
  // Holders this reconcile changed, against what was known of them (a socket new to the
  // table is no correction).
  for (const auto& [cookie, before] : r.before) corrected(&before, &holders_.at(cookie).holders);
  if (all) {
    // What it did not read, nobody holds now (if it read every socket known, nothing).
    if (r.sockets != holders_.size()) {
      std::erase_if(holders_, [&](const auto& entry) {
        if (entry.second.read_by == r.mark) return false;
        uncount(entry.first);
        corrected(&entry.second.holders, nullptr);
        return true;
      });
    }
    // Lingering sockets nobody holds. Counted into the holder facts, every lingering socket
    // without a holder entry is unread, an orphan already, or queued on a listener: look
    // among those, not up every lingering socket (100k lookups at random places).
    const HolderFacts& facts = holder_facts();
    std::unordered_set<uint64_t> orphans;
    for (const std::unordered_set<uint64_t>* candidates : {&facts.unread, &std::as_const(orphans_), &facts.unaccepted}) {
      for (uint64_t cookie : *candidates) {
        if (lingering_.contains(cookie) && !holders_.contains(cookie)) orphans.insert(cookie);
      }
    }
    for (uint64_t cookie : orphans) {
      if (!orphans_.contains(cookie)) uncount(cookie);
    }
    for (uint64_t cookie : orphans_) {
      if (!orphans.contains(cookie)) uncount(cookie);
    }
    orphans_ = std::move(orphans);
    names_ = std::move(r.names);
  } else {
    for (auto& [key, name] : r.names) names_.insert_or_assign(key, std::move(name));
  }
  // Sockets no process accepted are reported under their listener's holders.
  if (r.listeners != listeners_) {
    for (auto& [cookie, socket] : lingering_) {
      if (socket.unaccepted) uncount(socket);
    }
  }
  listeners_ = std::move(r.listeners);
  listeners_by_port_.clear();
  for (const auto& [id, l] : listeners_) listeners_by_port_.emplace(port_key(l.netns, l.local), id);
  if (all) reconcile_requested_ = false;
  ++counters_.reconciles;
}

void SocketTable::confirm_holder(const HolderCheck& check, uint32_t fds_open) {
  auto held = holders_.find(check.cookie);
  if (held == holders_.end()) return;
  auto it = lingering_.find(check.cookie);
  if (it != lingering_.end()) uncount(it->second);  // reports show lingering sockets' holders only
  held->second.holders.set_fds(check.process, fds_open);
  if (fds_open == 0) {
    if (it != lingering_.end() && it->second.owner == check.process) it->second.owner = ProcessKey{};
    // Every holder read is gone while the socket lingers: passed on (SCM_RIGHTS) to a
    // process no reading named, or held by nobody. Only a reading of every table tells.
    if (held->second.holders.empty()) reconcile_requested_ = true;
    return;
  }
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
  s.start_ns = row.start;
  s.since_is_lower_bound = row.since_is_lower_bound;
  s.owner = row.holder;
  s.peer = row.peer;
  s.netns = row.netns;
  s.rx_queue = row.rx_queue;
  s.untracked = true;
  return s;
}

SocketTable::Reconcile SocketTable::reconcile_needed(const AliveFn& alive) {
  if (reconcile_requested_) return Reconcile::kAll;
  const HolderFacts& f = holder_facts();
  // Each process asked about once: asking reads /proc.
  for (const auto& [process, sockets] : f.holding) {
    if (!alive(process)) return Reconcile::kAll;
  }
  return !f.unread.empty() || !untracked_cookies_.empty() ? Reconcile::kNew : Reconcile::kNone;
}

std::vector<HolderCheck> SocketTable::shared_holder_checks() {
  std::vector<HolderCheck> checks;
  for (uint64_t cookie : holder_facts().shared) {
    auto held = holders_.find(cookie);
    if (held == holders_.end()) continue;
    held->second.holders.each([&](const HolderSet::Holder& h) { checks.push_back({cookie, h.process, 0}); });
  }
  return checks;
}

const std::set<ProcessKey>& SocketTable::holding() {
  HolderFacts& f = holder_facts();
  if (f.holding_changed) {
    f.holding_set.clear();
    for (const auto& [process, sockets] : f.holding) f.holding_set.insert(f.holding_set.end(), process);
    f.holding_changed = false;
  }
  return f.holding_set;
}

void SocketTable::count_facts(const LingeringSocket& socket, int sign) {
  // Report holders read from the fd tables, not just the connect/accept owner: a fork,
  // dup2 or exec since then is invisible to events.
  bool read = false;
  const HolderSet holders = holders_of(socket, &read);
  const auto mark = [sign, &socket](std::unordered_set<uint64_t>& set) {
    if (sign > 0) {
      set.insert(socket.cookie);
    } else {
      set.erase(socket.cookie);
    }
  };
  if ((holders.empty() || !read) && !orphans_.contains(socket.cookie)) mark(facts_.unread);
  size_t processes = 0;
  holders.each([&](const HolderSet::Holder& h) {
    ++processes;
    facts_.holding_changed = true;
    if (sign > 0) {
      ++facts_.holding[h.process];
    } else if (auto it = facts_.holding.find(h.process); it != facts_.holding.end() && --it->second == 0) {
      facts_.holding.erase(it);
    }
  });
  // A queued socket's holders are its listener's: nobody closes it by its own fd.
  if (processes > 1 && !socket.unaccepted) mark(facts_.shared);
  if (socket.unaccepted) mark(facts_.unaccepted);
}

Nanos SocketTable::threshold_of(TcpState state) const {
  return state == TcpState::kCloseWait ? tally_thresholds_.close_wait : tally_thresholds_.established_idle;
}

void SocketTable::requeue_all(uint8_t share, std::vector<uint64_t>& queue) {
  queue.clear();
  for (auto& [cookie, socket] : lingering_) {
    socket.counted &= static_cast<uint8_t>(~share);
    queue.push_back(cookie);
  }
}

bool SocketTable::count_report(const LingeringSocket& socket, int sign, uint64_t now_ns) {
  if (sign > 0) {
    const Nanos threshold = threshold_of(socket.state);
    if (socket.age(now_ns) < threshold) {  // scans report only sockets past it: a reconcile's untracked one
      below_until_ns_ = std::min(below_until_ns_, socket.linger_start() + static_cast<uint64_t>(threshold.count()));
      return false;
    }
  }
  ++counters_.shares_counted;
  const HolderSet holders = holders_of(socket);
  if (holders.empty() && visible_only_) return true;  // a process out of sight holds it
  std::optional<Endpoint> listen;
  if (socket.unaccepted && !holders.empty()) listen = listener_of(socket)->local;
  const LingerTally::Share share{socket, holders, listen, capture_of(socket)};
  if (sign > 0) {
    tally_.add(share);
  } else {
    tally_.remove(share);
  }
  return true;
}

void SocketTable::uncount(LingeringSocket& socket) {
  // One-shot tables count everything afresh at each read: their sockets read whole have
  // holders from rows that a reconcile replaces at once, with no shares to take back.
  if ((socket.counted & kFactsCounted) && !one_shot_) count_facts(socket, -1);
  if ((socket.counted & kReportCounted) && !one_shot_) count_report(socket, -1, 0);
  // Queued even if it was not counted: one below its threshold may be past it as it is now.
  // Counting skips a socket queued twice.
  queue(socket.cookie);
  socket.counted = 0;
}

void SocketTable::uncount(uint64_t cookie) {
  if (auto it = lingering_.find(cookie); it != lingering_.end()) uncount(it->second);
}

SocketTable::HolderFacts& SocketTable::holder_facts() {
  if (one_shot_ || recount_facts_) {  // one-shot: counted afresh at each read (see uncount())
    recount_facts_ = false;
    facts_ = HolderFacts{};
    facts_.holding_changed = true;
    requeue_all(kFactsCounted, uncounted_facts_);
  }
  for (uint64_t cookie : uncounted_facts_) {
    auto it = lingering_.find(cookie);
    if (it == lingering_.end() || (it->second.counted & kFactsCounted)) continue;  // gone, or queued twice
    count_facts(it->second, +1);
    it->second.counted |= kFactsCounted;
  }
  uncounted_facts_.clear();
  return facts_;
}

void SocketTable::recount_report(uint64_t now_ns) {
  ++counters_.report_rebuilds;
  tally_.clear();
  below_threshold_.clear();
  below_until_ns_ = UINT64_MAX;
  requeue_all(kReportCounted, uncounted_report_);
  // One-shot: sockets read whole, counted from their rows (a scan's reading counts instead
  // for one the state hook added meanwhile).
  for (auto run = read_whole_.begin(); run != read_whole_.end();) {
    const auto end = std::find_if(run, read_whole_.end(), [&](const ReadWhole& r) { return r.cookie != run->cookie; });
    if (!lingering_.contains(run->cookie)) {
      const LingeringSocket socket = socket_of(*run);
      HolderSet holders;
      for (auto it = run; it != end; ++it) holders.add(it->holder);
      if (socket.age(now_ns) >= threshold_of(socket.state) && !(holders.empty() && visible_only_)) tally_.add({socket, holders, {}});
    }
    run = end;
  }
}

void SocketTable::settle_report(const Thresholds& thresholds, uint64_t now_ns) {
  if (!(tally_thresholds_ == thresholds)) recount_ = true;
  tally_thresholds_ = thresholds;
  if (recount_ || one_shot_) recount_report(now_ns);
  recount_ = false;
  if (now_ns >= below_until_ns_) {
    uncounted_report_.insert(uncounted_report_.end(), below_threshold_.begin(), below_threshold_.end());
    below_threshold_.clear();
    below_until_ns_ = UINT64_MAX;
  }
  for (uint64_t cookie : uncounted_report_) {
    auto it = lingering_.find(cookie);
    if (it == lingering_.end() || (it->second.counted & kReportCounted)) continue;  // gone, or queued twice
    if (count_report(it->second, +1, now_ns)) {
      it->second.counted |= kReportCounted;
    } else {
      below_threshold_.push_back(cookie);
    }
  }
  uncounted_report_.clear();
}

LingerReport SocketTable::report(const Thresholds& thresholds, uint64_t now_ns) {
  settle_report(thresholds, now_ns);
  LingerReport report = tally_.report(now_ns, names_);
  // A share taken back that was never counted is a bookkeeping error (tests check there
  // is none): what the tallies say can no longer be trusted, so they are counted afresh.
  if (const uint64_t unmatched = tally_.unmatched(); unmatched > 0) {
    counters_.tally_mismatches += unmatched;
    recount_ = recount_facts_ = true;
    settle_report(thresholds, now_ns);
    report = tally_.report(now_ns, names_);
  }
  return report;
}

}  // namespace sockleak
