// ExecFindings: what `sockleak exec` saw in the command's process tree over one run —
// groups that lingered past a threshold at some report (the largest count and oldest age
// of each), and CLOSE_WAIT sockets closed only by their process's exit (never closed by
// the program). Pure: fed report rows and kernel records, tested without a kernel.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "core/abi.h"
#include "core/report_rows.h"
#include "core/socket_table.h"

namespace sockleak {

class ExecFindings {
 public:
  // Rows of one report, already limited to the watched processes.
  void add_report(const std::vector<ReportRow>& rows);
  // A CLOSE_WAIT socket its holder's exit closed; each socket counts once.
  void add_exit_close(const sl_exit_close& record);

  // Lingered groups, most sockets first.
  std::vector<ReportRow> lingered() const;
  // Sockets closed by exit, one group per process (oldest: the longest time a socket
  // spent in CLOSE_WAIT before the exit; call sites as stack ids, to be named), most
  // sockets first.
  std::vector<LingerGroup> never_closed() const;
  bool empty() const { return lingered_.empty() && exits_.empty(); }

 private:
  using GroupKey = std::tuple<ProcessKey, TcpState, std::optional<Endpoint>>;
  std::map<GroupKey, ReportRow> lingered_;
  struct Exit {
    LingeringSocket socket;
    std::optional<LingeringSocket::Capture> capture;
    std::string name;
    uint64_t closed_ns = 0;
  };
  std::map<uint64_t, Exit> exits_;  // by cookie
};

}  // namespace sockleak
