#include "output/exec_report.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "core/hints.h"

namespace sockleak {
namespace {

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.2f s" : "%.0f s", s);
  return buf;
}

std::string plural(uint32_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "pid 42 (name)"
std::string who(const ReportRow& row) {
  const std::string& name = row.process.name.empty() ? row.group.name : row.process.name;
  return "pid " + std::to_string(row.group.process.pid) + (name.empty() ? "" : " (" + name + ")");
}

// The headline of one finding, without the process.
std::string headline(const ReportRow& row, bool never_closed, const Thresholds& t) {
  const LingerGroup& g = row.group;
  const std::string state(state_name(g.state));
  if (never_closed) {
    return plural(g.count, (state + " socket").c_str(), (state + " sockets").c_str()) +
           " never closed: closed only by the process's exit, up to " +
           seconds_text(to_seconds(g.oldest)) + " after the peer closed";
  }
  const Nanos threshold = g.state == TcpState::kCloseWait ? t.close_wait : t.established_idle;
  return plural(g.count, (state + " socket").c_str(), (state + " sockets").c_str()) + " past " +
         format_duration(threshold) + (g.listen ? " never accepted on " + g.listen->to_string() : "") +
         " (oldest " + seconds_text(to_seconds(g.oldest)) + ")";
}

// A frame of the Go standard library or of libc, which a summary folds: "net/http.(*T).f",
// "runtime.goexit", "connect (../sysdeps/...)", "0x... (/usr/lib/.../libc.so.6)".
bool library_frame(const std::string& frame) {
  if (frame.find("(../sysdeps/") != std::string::npos || frame.find("/libc.so") != std::string::npos) return true;
  const std::string function = frame.substr(0, frame.find(' '));
  const size_t slash = function.rfind('/');
  const size_t dot = function.find('.', slash == std::string::npos ? 0 : slash);
  if (dot == std::string::npos || function.find('(') < dot) return false;  // not a Go name
  const std::string package = function.substr(0, dot);
  const std::string first = package.substr(0, package.find('/'));
  // Standard packages have no dot in their first path element; main is the program's.
  return first.find('.') == std::string::npos && package != "main";
}

void describe(std::ostringstream& out, const ReportRow& row, bool never_closed, const Thresholds& t) {
  out << "  " << who(row) << ": " << headline(row, never_closed, t) << "\n";
  for (const PeerCount& p : row.group.top_peers) {
    out << "    peer " << p.peer.to_string() << " (" << p.count << (p.unread ? ", " + std::to_string(p.unread) + " with unread data" : "")
        << ")\n";
  }
  out << "    cause " << cause_name(linger_cause(row.group)) << ": " << linger_hint(row.group) << "\n";
  // The innermost frame, then the program's own, with library frames folded between:
  // the whole stack is in the records.
  constexpr size_t kFrames = 8;
  for (const CallSite& site : row.call_sites) {
    const char* label = "    opened at ";
    const auto own = std::find_if(site.frames.begin() + (site.frames.empty() ? 0 : 1), site.frames.end(),
                                  [](const std::string& f) { return !library_frame(f); });
    if (own == site.frames.end() && site.frames.size() > 2) {
      // Nothing of the program's on the stack (a Go transport's dial goroutine): the
      // library's outermost frames say what started it.
      size_t last = site.frames.size();
      while (last > 1 && (site.frames[last - 1].rfind("runtime.goexit", 0) == 0 ||
                          site.frames[last - 1].rfind("__libc_start", 0) == 0)) {
        --last;
      }
      const size_t first = std::max<size_t>(1, last > 4 ? last - 4 : 1);
      out << label << site.frames[0] << "\n";
      if (first > 1) out << "              (" << first - 1 << " library frames)\n";
      for (size_t i = first; i < last; ++i) out << "              " << site.frames[i] << "\n";
      continue;
    }
    size_t shown = 0;
    size_t folded = 0;
    size_t i = 0;
    auto fold = [&] {
      if (folded) out << label << "(" << folded << (folded == 1 ? " library frame)\n" : " library frames)\n");
      folded = 0;
    };
    for (; i < site.frames.size() && shown < kFrames; ++i) {
      if (i > 0 && library_frame(site.frames[i])) {
        ++folded;
        continue;
      }
      fold();
      out << label << site.frames[i] << "\n";
      label = "              ";
      ++shown;
    }
    folded = 0;
    if (i < site.frames.size()) out << label << "(" << site.frames.size() - i << " more frames in --output)\n";
    if (row.call_sites.size() > 1) out << "              (" << plural(site.count, "socket", "sockets") << ")\n";
  }
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no control characters but tab, newline and carriage return.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "?";
        } else {
          out += c;
        }
    }
  }
  return out;
}

}  // namespace

std::string command_text(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) {
    if (!text.empty()) text += ' ';
    const bool plain = !arg.empty() && arg.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
    if (plain) {
      text += arg;
      continue;
    }
    text += '\'';
    for (char c : arg) text += c == '\'' ? std::string("'\\''") : std::string(1, c);
    text += '\'';
  }
  return text;
}

std::string exec_summary(const ExecOutcome& o) {
  std::ostringstream out;
  const std::string context = std::to_string(o.processes) + (o.processes == 1 ? " process" : " processes") +
                              " watched, " + seconds_text(o.seconds);
  if (!o.leaked()) {
    out << "sockleak: no socket leaks in `" << command_text(o.argv) << "` (" << o.command_status << ", " << context
        << ")\n";
  } else {
    out << "sockleak: `" << command_text(o.argv) << "` leaked sockets (" << o.command_status << ", " << context
        << "):\n";
    for (const ReportRow& row : o.never_closed) describe(out, row, true, o.thresholds);
    for (const ReportRow& row : o.lingered) describe(out, row, false, o.thresholds);
  }
  if (o.events_lost > 0) {
    out << "sockleak: warning: " << o.events_lost
        << " kernel events were lost (ring buffer full; raise --ring-buffer-kib): sockets closed by an exit may be "
           "missing\n";
  }
  if (o.command_signaled) {
    out << "sockleak: ending as the command did (" << o.command_status << ")\n";
  } else if (o.command_failed) {
    out << "sockleak: exit " << o.exit_code << ": the command's own status\n";
  } else if (o.leaked()) {
    out << "sockleak: exit " << o.exit_code << ": leak found (the command succeeded)\n";
  }
  return out.str();
}

std::vector<nlohmann::ordered_json> exec_records(const ExecOutcome& o, const RecordContext& ctx) {
  std::vector<nlohmann::ordered_json> records;
  auto leak = [&](const ReportRow& row, const char* kind) {
    nlohmann::ordered_json record = linger_record(row, ctx);
    record["type"] = "leak";
    record["leak"] = {{"kind", kind}};
    records.push_back(std::move(record));
  };
  for (const ReportRow& row : o.never_closed) leak(row, "never_closed");
  for (const ReportRow& row : o.lingered) leak(row, "lingered");
  nlohmann::ordered_json exec = {{"schema", kSchema},
                                 {"type", "exec"},
                                 {"@timestamp", ctx.timestamp},
                                 {"host", {{"name", ctx.host}}}};
  exec["command"] = {{"args", o.argv}, {"status", o.command_status}, {"exit_code", o.command_code}};
  exec["leaks"] = {{"never_closed", o.never_closed.size()}, {"lingered", o.lingered.size()}};
  exec["processes"] = o.processes;
  exec["duration_seconds"] = o.seconds;
  exec["events_lost"] = o.events_lost;
  exec["exit_code"] = o.exit_code;
  records.push_back(std::move(exec));
  return records;
}

std::string junit_report(const ExecOutcome& o) {
  struct Case {
    std::string name;
    std::string failure;  // empty: passed
    std::string details;
  };
  std::vector<Case> cases;
  auto add = [&](const ReportRow& row, bool never_closed) {
    std::ostringstream details;
    describe(details, row, never_closed, o.thresholds);
    cases.push_back({who(row) + ": " + headline(row, never_closed, o.thresholds),
                     std::string(cause_name(linger_cause(row.group))), details.str()});
  };
  for (const ReportRow& row : o.never_closed) add(row, true);
  for (const ReportRow& row : o.lingered) add(row, false);
  if (cases.empty()) cases.push_back({"no socket leaks", "", ""});
  std::ostringstream out;
  const size_t failures = o.never_closed.size() + o.lingered.size();
  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      << "<testsuites tests=\"" << cases.size() << "\" failures=\"" << failures << "\">\n"
      << "  <testsuite name=\"sockleak: " << xml_escape(command_text(o.argv)) << "\" tests=\"" << cases.size()
      << "\" failures=\"" << failures << "\" time=\"" << o.seconds << "\">\n";
  for (const Case& c : cases) {
    out << "    <testcase classname=\"sockleak\" name=\"" << xml_escape(c.name) << "\"";
    if (c.failure.empty()) {
      out << "/>\n";
      continue;
    }
    out << ">\n      <failure type=\"" << xml_escape(c.failure) << "\" message=\"" << xml_escape(c.name) << "\">"
        << xml_escape(c.details) << "</failure>\n    </testcase>\n";
  }
  out << "  </testsuite>\n</testsuites>\n";
  return out.str();
}

}  // namespace sockleak
