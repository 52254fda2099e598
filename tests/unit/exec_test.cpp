// `exec`'s pure parts: what a run found (ExecFindings), how it is told (summary, NDJSON,
// JUnit), its command line, and the Go function table behind its Go call sites.
#include <chrono>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "app/options.h"
#include "core/error.h"
#include "core/exec_findings.h"
#include "core/go_pclntab.h"
#include "output/exec_report.h"
#include "symbolize/protocol.h"
#include "table_fixtures.h"

using namespace std::chrono_literals;
using namespace sockleak;
using namespace sockleak::test;

namespace {

sl_exit_close exit_close(uint64_t cookie, ProcessKey process, uint64_t since_ns, uint64_t closed_ns,
                         const char* comm = "leaky.test") {
  sl_exit_close record{};
  record.head.kind = SL_EV_EXIT_CLOSE;
  record.head.cookie = cookie;
  record.head.ts_ns = closed_ns;
  record.head.tgid = process.pid;
  record.head.proc_start = process.start_ns;
  record.row = with_peer(close_wait_row(cookie, process, since_ns), {127, 0, 0, 1}, 8080);
  std::strncpy(record.row.comm, comm, sizeof record.row.comm - 1);
  return record;
}

ReportRow lingered_row(ProcessKey process, uint32_t count, Nanos oldest) {
  ReportRow row;
  row.group.process = process;
  row.group.name = "worker";
  row.group.state = TcpState::kCloseWait;
  row.group.count = count;
  row.group.oldest = oldest;
  row.process.name = "worker";
  return row;
}

ParseOutcome parse(std::initializer_list<std::string> args) {
  std::vector<std::string> storage{"sockleak"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const std::string& a : storage) argv.push_back(a.c_str());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

}  // namespace

TEST_CASE("exec: sockets closed by an exit are grouped per process, each socket once", "[exec]") {
  ExecFindings findings;
  CHECK(findings.empty());
  findings.add_exit_close(exit_close(1, kServer, kNow - 2 * kSec, kNow));
  findings.add_exit_close(exit_close(1, kServer, kNow - 2 * kSec, kNow));  // the same socket again
  findings.add_exit_close(exit_close(2, kServer, kNow - kSec / 2, kNow));
  findings.add_exit_close(exit_close(3, kWorker, kNow - kSec, kNow, "other"));
  auto rx = exit_close(4, kServer, kNow - kSec, kNow);
  rx.row.rx_queue = 101;  // 100 unread bytes and the FIN
  findings.add_exit_close(rx);
  const std::vector<LingerGroup> groups = findings.never_closed();
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].process == kServer);
  CHECK(groups[0].name == "leaky.test");
  CHECK(groups[0].state == TcpState::kCloseWait);
  CHECK(groups[0].count == 3);
  CHECK(groups[0].oldest == 2s);
  CHECK(groups[0].unread_count == 1);
  CHECK(groups[0].unread_bytes == 100);
  REQUIRE(groups[0].top_peers.size() == 1);
  CHECK(groups[0].top_peers[0].count == 3);
  CHECK(groups[0].top_peers[0].peer.port == 8080);
  CHECK(groups[1].process == kWorker);
  CHECK(groups[1].name == "other");
  CHECK(groups[1].count == 1);
  CHECK(findings.lingered().empty());
}

TEST_CASE("exec: sockets closed by an exit keep their call sites, most sockets first", "[exec]") {
  ExecFindings findings;
  for (uint64_t cookie = 1; cookie <= 3; ++cookie) {
    auto record = exit_close(cookie, kServer, kNow - kSec, kNow);
    record.row.stack_id = cookie == 1 ? 7 : 9;
    record.row.capturer = {kServer.start_ns, 55, kServer.start_ns, kServer.pid, 3};
    findings.add_exit_close(record);
  }
  const std::vector<LingerGroup> groups = findings.never_closed();
  REQUIRE(groups.size() == 1);
  REQUIRE(groups[0].call_sites.size() == 2);
  CHECK(groups[0].call_sites[0].stack_id == 9);
  CHECK(groups[0].call_sites[0].count == 2);
  CHECK(groups[0].call_sites[0].captured_in == kServer);
  CHECK(groups[0].call_sites[0].exe.ino == 55);
  CHECK(groups[0].call_sites[1].stack_id == 7);
}

TEST_CASE("exec: a group that lingered keeps its largest report and its oldest age", "[exec]") {
  ExecFindings findings;
  findings.add_report({lingered_row(kServer, 2, 5s)});
  findings.add_report({lingered_row(kServer, 4, 2s), lingered_row(kWorker, 1, 1s)});
  findings.add_report({lingered_row(kServer, 3, 7s)});
  const std::vector<ReportRow> rows = findings.lingered();
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].group.process == kServer);
  CHECK(rows[0].group.count == 4);
  CHECK(rows[0].group.oldest == 7s);
  CHECK(rows[1].group.process == kWorker);
  CHECK_FALSE(findings.empty());
}

TEST_CASE("exec: the summary tells what leaked, where and the exit status; a clean run says so", "[exec]") {
  ExecOutcome clean;
  clean.argv = {"go", "test", "./..."};
  clean.command_status = "exited 0";
  clean.processes = 3;
  clean.seconds = 1.5;
  CHECK(exec_summary(clean) == "sockleak: no socket leaks in `go test ./...` (exited 0, 3 processes watched, 1.50 s)\n");

  ExecOutcome leaked = clean;
  ReportRow never = lingered_row(kServer, 2, 300ms);
  never.group.top_peers.push_back({Endpoint{2, {127, 0, 0, 1}, 8080}, 2, 0});
  never.call_sites.push_back({2, {"main.fetch (/src/fetch.go:17)", "main.TestFetch (/src/fetch_test.go:9)"}});
  leaked.never_closed.push_back(never);
  leaked.lingered.push_back(lingered_row(kWorker, 1, 3s));
  leaked.exit_code = 66;
  leaked.thresholds = {1s, kThresholdOff};
  const std::string text = exec_summary(leaked);
  INFO(text);
  CHECK(text.find("sockleak: `go test ./...` leaked sockets (exited 0, 3 processes watched, 1.50 s):\n") == 0);
  CHECK(text.find("  pid 100 (worker): 2 CLOSE_WAIT sockets never closed: closed only by the process's exit") !=
        std::string::npos);
  CHECK(text.find("    peer 127.0.0.1:8080 (2)\n") != std::string::npos);
  CHECK(text.find("    cause peer_closed: ") != std::string::npos);
  CHECK(text.find("    opened at main.fetch (/src/fetch.go:17)\n              main.TestFetch") != std::string::npos);
  CHECK(text.find("  pid 200 (worker): 1 CLOSE_WAIT socket past 1s (oldest 3.00 s)") != std::string::npos);
  CHECK(text.find("sockleak: exit 66: leak found (the command succeeded)\n") != std::string::npos);

  leaked.command_failed = true;
  leaked.command_status = "exited 5";
  leaked.exit_code = 5;
  CHECK(exec_summary(leaked).find("sockleak: exit 5: the command's own status\n") != std::string::npos);
}

TEST_CASE("exec: long stacks are cut in the summary, whole in the records", "[exec]") {
  ExecOutcome o;
  o.argv = {"t"};
  ReportRow row = lingered_row(kServer, 1, 1s);
  std::vector<std::string> frames;
  for (int i = 0; i < 20; ++i) frames.push_back(std::to_string(i).insert(0, 1, 'f'));
  row.call_sites.push_back({1, frames});
  o.never_closed.push_back(row);
  const std::string text = exec_summary(o);
  CHECK(text.find(" f7\n") != std::string::npos);
  CHECK(text.find(" f8\n") == std::string::npos);
  CHECK(text.find("(12 more frames in --output)") != std::string::npos);
  const auto records = exec_records(o, {"2026-12-01T00:00:00.000Z", "host", {}});
  CHECK(records.front()["call_sites"][0]["frames"].size() == 20);
}

TEST_CASE("exec: the summary folds Go standard library and libc frames around the program's own", "[exec]") {
  ExecOutcome o;
  o.argv = {"t"};
  ReportRow go = lingered_row(kServer, 1, 1s);
  go.call_sites.push_back({1,
                           {"runtime/internal/syscall.Syscall6 (/t)", "syscall.connect (/t)", "net.(*netFD).connect (/t)",
                            "github.com/lib/pq.(*conn).dial (/t)", "main.leakDial (/t)", "main.main (/t)",
                            "runtime.main (/t)", "runtime.goexit (/t)"}});
  ReportRow c = lingered_row(kWorker, 1, 1s);
  c.call_sites.push_back({1,
                          {"connect (../sysdeps/unix/sysv/linux/connect.c:26)", "leaky_fetch (/x/leak_site.c:33)",
                           "main (/x/leak_site.c:48)", "__libc_start_call_main (../sysdeps/nptl/libc_start_call_main.h:58)"}});
  o.never_closed = {go, c};
  const std::string text = exec_summary(o);
  INFO(text);
  CHECK(text.find("    opened at runtime/internal/syscall.Syscall6 (/t)\n"
                  "              (2 library frames)\n"
                  "              github.com/lib/pq.(*conn).dial (/t)\n"
                  "              main.leakDial (/t)\n"
                  "              main.main (/t)\n") != std::string::npos);
  CHECK(text.find("runtime.goexit") == std::string::npos);
  CHECK(text.find("    opened at connect (../sysdeps/unix/sysv/linux/connect.c:26)\n"
                  "              leaky_fetch (/x/leak_site.c:33)\n"
                  "              main (/x/leak_site.c:48)\n") != std::string::npos);
  CHECK(text.find("__libc_start_call_main") == std::string::npos);

  // Only library code (a net/http dial goroutine): its outermost frames.
  ReportRow dial = lingered_row(kServer, 1, 1s);
  dial.call_sites.push_back({1,
                             {"runtime/internal/syscall.Syscall6 (/t)", "syscall.connect (/t)", "net.(*netFD).connect (/t)",
                              "net.(*Dialer).DialContext (/t)", "net/http.(*Transport).dial (/t)",
                              "net/http.(*Transport).dialConn (/t)", "net/http.(*Transport).dialConnFor (/t)",
                              "net/http.(*Transport).queueForDial.func1 (/t)", "runtime.goexit (/t)"}});
  o.never_closed = {dial};
  const std::string library = exec_summary(o);
  INFO(library);
  CHECK(library.find("    opened at runtime/internal/syscall.Syscall6 (/t)\n"
                     "              (3 library frames)\n"
                     "              net/http.(*Transport).dial (/t)\n"
                     "              net/http.(*Transport).dialConn (/t)\n"
                     "              net/http.(*Transport).dialConnFor (/t)\n"
                     "              net/http.(*Transport).queueForDial.func1 (/t)\n") != std::string::npos);
}

TEST_CASE("exec: NDJSON has one leak record per finding and an exec record last", "[exec]") {
  ExecOutcome o;
  o.argv = {"./t", "-v"};
  o.command_status = "exited 0";
  o.processes = 2;
  o.exit_code = 66;
  o.never_closed.push_back(lingered_row(kServer, 2, 1s));
  o.lingered.push_back(lingered_row(kWorker, 1, 2s));
  const auto records = exec_records(o, {"2026-12-01T00:00:00.000Z", "host", {1s, kThresholdOff}});
  REQUIRE(records.size() == 3);
  CHECK(records[0]["type"] == "leak");
  CHECK(records[0]["leak"]["kind"] == "never_closed");
  CHECK(records[0]["process"]["pid"] == 100);
  CHECK(records[0]["socket"]["count"] == 2);
  CHECK(records[1]["leak"]["kind"] == "lingered");
  CHECK(records[2]["type"] == "exec");
  CHECK(records[2]["command"]["args"] == nlohmann::ordered_json({"./t", "-v"}));
  CHECK(records[2]["command"]["exit_code"] == 0);
  CHECK(records[2]["leaks"]["never_closed"] == 1);
  CHECK(records[2]["leaks"]["lingered"] == 1);
  CHECK(records[2]["exit_code"] == 66);
}

TEST_CASE("exec: JUnit has a failing case per finding, escaped, or one passing case", "[exec]") {
  ExecOutcome o;
  o.argv = {"sh", "-c", "a < b && c"};
  CHECK(junit_report(o).find("<testcase classname=\"sockleak\" name=\"no socket leaks\"/>") != std::string::npos);
  CHECK(junit_report(o).find("failures=\"0\"") != std::string::npos);
  ReportRow row = lingered_row(kServer, 1, 1s);
  row.process.name = "a<b>&\"c\"";
  o.never_closed.push_back(row);
  const std::string xml = junit_report(o);
  INFO(xml);
  CHECK(xml.find("failures=\"1\"") != std::string::npos);
  CHECK(xml.find("name=\"sockleak: sh -c &apos;a &lt; b &amp;&amp; c&apos;\"") != std::string::npos);
  CHECK(xml.find("pid 100 (a&lt;b&gt;&amp;&quot;c&quot;)") != std::string::npos);
  CHECK(xml.find("<failure type=\"peer_closed\"") != std::string::npos);
}

TEST_CASE("exec: the command line is quoted as a shell would need it", "[exec]") {
  CHECK(command_text({"go", "test", "./..."}) == "go test ./...");
  CHECK(command_text({"sh", "-c", "echo 'hi' $x"}) == "sh -c 'echo '\\''hi'\\'' $x'");
  CHECK(command_text({"a", ""}) == "a ''");
}

TEST_CASE("exec: defaults suit test runs, the command follows --", "[exec][options]") {
  const ParseOutcome out = parse({"exec", "--", "go", "test", "-v", "./..."});
  REQUIRE(out.options);
  const Options& o = *out.options;
  CHECK(o.command == Command::kExec);
  CHECK(o.exec_argv == std::vector<std::string>{"go", "test", "-v", "./..."});
  CHECK(o.thresholds.close_wait == 1s);
  CHECK(o.thresholds.established_idle == kThresholdOff);
  CHECK(o.interval == 1s);
  CHECK(o.call_sites == 1);
  CHECK(o.leak_exit_code == 66);
  CHECK_FALSE(o.junit_path);
  CHECK_FALSE(o.output_path);

  const ParseOutcome set = parse({"exec", "--established-idle", "5s", "--close-wait", "200ms", "--call-sites", "0",
                                  "--leak-exit-code", "9", "--junit", "/tmp/x.xml", "--output", "/tmp/x.ndjson",
                                  "--", "./t"});
  REQUIRE(set.options);
  CHECK(set.options->thresholds.established_idle == 5s);
  CHECK(set.options->thresholds.close_wait == 200ms);
  CHECK(set.options->call_sites == 0);
  CHECK(set.options->leak_exit_code == 9);
  CHECK(set.options->junit_path == std::optional<std::string>("/tmp/x.xml"));
  CHECK(set.options->output_path == std::optional<std::string>("/tmp/x.ndjson"));
}

TEST_CASE("exec: usage errors name what is wrong", "[exec][options]") {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"exec"}, {"exec", "--leak-exit-code", "0", "--", "t"}, {"exec", "--leak-exit-code", "256", "--", "t"},
           {"exec", "--pid", "1", "--", "t"}, {"exec", "--established-idle", "never", "--", "t"},
           {"run", "--established-idle", "off"}}) {
    std::vector<const char*> argv{"sockleak"};
    for (const std::string& a : args) argv.push_back(a.c_str());
    const ParseOutcome out = parse_options(static_cast<int>(argv.size()), argv.data());
    INFO(args.back());
    CHECK_FALSE(out.options);
    CHECK(out.exit_code == kExitUsage);
  }
}

namespace {

// A Go 1.18+ function table: two functions at 0x401000 and 0x401100, text ends at 0x401200.
std::vector<std::byte> go_table(uint32_t magic = 0xfffffff0, uint64_t text_start = 0x401000) {
  std::vector<std::byte> b(256);
  auto put32 = [&](size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); };
  auto put64 = [&](size_t at, uint64_t v) { std::memcpy(b.data() + at, &v, 8); };
  put32(0, magic);
  b[6] = std::byte{1};  // minLC
  b[7] = std::byte{8};  // ptrSize
  put64(8, 2);          // nfunc
  put64(24, text_start);
  put64(32, 72);   // funcnametab
  put64(64, 128);  // pclntab: functab, then _func records
  const char names[] = "main.first\0main.leakDial\0";
  std::memcpy(b.data() + 72, names, sizeof names);
  put32(128, 0x000), put32(132, 24);    // func 0: entry offset, _func offset
  put32(136, 0x100), put32(140, 32);    // func 1
  put32(144, 0x200), put32(148, 0);     // end of text
  put32(128 + 24, 0x000), put32(128 + 28, 0);   // _func 0: entryOff, nameOff
  put32(128 + 32, 0x100), put32(128 + 36, 11);  // _func 1
  return b;
}

}  // namespace

TEST_CASE("go function table: names the function containing a pc, nothing outside text", "[exec][go]") {
  for (uint32_t magic : {0xfffffff0u, 0xfffffff1u}) {
    const auto bytes = go_table(magic);
    const auto table = GoFuncTable::parse(bytes, 0);
    REQUIRE(table);
    CHECK(table->functions() == 2);
    CHECK(table->function_at(0x401000) == std::optional<std::string>("main.first"));
    CHECK(table->function_at(0x4010ff) == std::optional<std::string>("main.first"));
    CHECK(table->function_at(0x401100) == std::optional<std::string>("main.leakDial"));
    CHECK(table->function_at(0x4011ff) == std::optional<std::string>("main.leakDial"));
    CHECK_FALSE(table->function_at(0x401200));
    CHECK_FALSE(table->function_at(0x400fff));
    CHECK_FALSE(table->function_at(0));
  }
  // PIE: the header's text start is relocated at run time (0 in the file): .text's address.
  const auto pie = GoFuncTable::parse(go_table(0xfffffff0, 0), 0x1000);
  REQUIRE(pie);
  CHECK(pie->function_at(0x1100) == std::optional<std::string>("main.leakDial"));
}

TEST_CASE("go function table: other versions and damaged tables are refused or answer nothing", "[exec][go]") {
  CHECK_FALSE(GoFuncTable::parse(go_table(0xfffffffb), 0));  // Go 1.2-1.15
  CHECK_FALSE(GoFuncTable::parse(go_table(0xfffffffa), 0));  // Go 1.16-1.17
  auto bytes = go_table();
  CHECK_FALSE(GoFuncTable::parse(std::span(bytes).first(40), 0));
  auto huge = go_table();
  huge[8] = std::byte{0xff};  // nfunc beyond the section
  CHECK_FALSE(GoFuncTable::parse(huge, 0));
  auto bad_name = go_table();
  const uint32_t far = 100000;
  std::memcpy(bad_name.data() + 128 + 36, &far, 4);
  const auto table = GoFuncTable::parse(bad_name, 0);
  REQUIRE(table);
  CHECK_FALSE(table->function_at(0x401100));
  CHECK(table->function_at(0x401000) == std::optional<std::string>("main.first"));
  auto bad_func = go_table();
  std::memcpy(bad_func.data() + 140, &far, 4);
  const auto damaged = GoFuncTable::parse(bad_func, 0);
  REQUIRE(damaged);
  CHECK_FALSE(damaged->function_at(0x401100));
}

TEST_CASE("symbolizer messages: requests and answers round-trip; anything else is refused", "[exec][symbolizer]") {
  SymbolizeRequest request;
  request.modules = {{0x7f0000000000, "/usr/lib/libc.so.6"}, {0x400000, "/tmp/go-build1/b001/x.test"}};
  request.addresses = {0x7f0000001234, 0x401000};
  const auto bytes = encode_request(request);
  const auto back = decode_request(bytes);
  REQUIRE(back);
  CHECK(back->kind == SymbolizeKind::kFrames);
  REQUIRE(back->modules.size() == 2);
  CHECK(back->modules[1].name == "/tmp/go-build1/b001/x.test");
  CHECK(back->modules[0].base == 0x7f0000000000);
  CHECK(back->addresses == request.addresses);
  CHECK_FALSE(decode_request(std::span(bytes).first(bytes.size() - 1)));  // truncated
  auto longer = bytes;
  longer.push_back(std::byte{0});
  CHECK_FALSE(decode_request(longer));  // trailing bytes
  auto bad_magic = bytes;
  bad_magic[0] = std::byte{0};
  CHECK_FALSE(decode_request(bad_magic));
  SymbolizeRequest many;
  many.addresses.assign(kMaxAddresses + 1, 1);
  CHECK_FALSE(decode_request(encode_request(many)));

  const auto texts = encode_texts({"main.leakDial (/src/x.go:3)", "0x401000"});
  CHECK(decode_texts(texts, 2) == std::optional<std::vector<std::string>>({{"main.leakDial (/src/x.go:3)", "0x401000"}}));
  CHECK_FALSE(decode_texts(texts, 3));  // a helper answering another question
  CHECK_FALSE(decode_texts(std::span(texts).first(texts.size() - 2), 2));
  CHECK(decode_texts(encode_texts({std::string(kMaxText + 10, 'x')}), 1)->front().size() == kMaxText);
}
