#include "core/linger_report.h"

#include <algorithm>
#include <tuple>

namespace sockleak {

LingeringSocket LingeringSocket::from_row(const sl_sock_row& row, uint64_t seen_ns) {
  LingeringSocket s;
  s.cookie = row.cookie;
  s.state = static_cast<TcpState>(row.state);
  s.since_is_lower_bound = (row.flags & SL_ROW_SINCE_LOWER) != 0;
  const uint64_t idle_ns = row.idle_ms * 1'000'000;
  s.start_ns = s.state == TcpState::kCloseWait ? row.since_ns : seen_ns > idle_ns ? seen_ns - idle_ns : 0;
  s.local = Endpoint::of(row.family, row.local_addr, row.local_port);
  s.peer = Endpoint::of(row.family, row.peer_addr, row.peer_port);
  s.netns = row.netns;
  s.rx_queue = row.rx_queue;
  s.stack_id = row.stack_id;
  s.owner = ProcessKey{row.tgid, row.tgid ? row.proc_start : 0};
  s.unaccepted = (row.flags & SL_ROW_UNACCEPTED) != 0;
  s.listener = s.unaccepted ? row.listener : 0;
  s.untracked = (row.flags & SL_ROW_UNTRACKED) != 0;
  return s;
}

std::optional<LingeringSocket::Capture> LingeringSocket::capture_of(const sl_sock_row& row) {
  if (row.capturer.tgid == 0 || row.stack_id == SL_NO_STACK) return std::nullopt;
  return Capture{ProcessKey{row.capturer.tgid, row.capturer.start},
                 ExeId{row.capturer.exe_ino, row.capturer.exe_dev, row.capturer.layout}};
}

Nanos LingeringSocket::age(uint64_t now_ns) const {
  return Nanos(now_ns > start_ns ? now_ns - start_ns : 0);
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

void CallSiteTally::add(const LingeringSocket& socket, const LingeringSocket::Capture* capture) {
  if (socket.stack_id == SL_NO_STACK) return;
  Site& site = sites_[socket.stack_id];
  ++site.count;
  if (capture) ++site.captures[{capture->process, capture->exe}];
}

void CallSiteTally::remove(const LingeringSocket& socket, const LingeringSocket::Capture* by) {
  auto site = sites_.find(socket.stack_id);
  if (site == sites_.end()) return;
  if (by) {
    auto capture = site->second.captures.find({by->process, by->exe});
    if (capture != site->second.captures.end() && --capture->second == 0) site->second.captures.erase(capture);
  }
  if (--site->second.count == 0) sites_.erase(site);
}

std::vector<LingerGroup::CallSiteCount> CallSiteTally::most(size_t keep) const {
  std::vector<LingerGroup::CallSiteCount> out;
  for (const auto& [id, site] : sites_) {
    LingerGroup::CallSiteCount c{id, site.count, {}, {}};
    uint32_t best = 0;
    for (const auto& [capture, sockets] : site.captures) {
      if (sockets > best) std::tie(c.captured_in, c.exe, best) = std::tie(capture.first, capture.second, sockets);
    }
    out.push_back(c);
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  if (out.size() > keep) out.resize(keep);
  return out;
}

}  // namespace sockleak
