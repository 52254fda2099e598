// RecordWriter: renders reports as NDJSON or a text table onto a stream, and notices
// when the reader is gone (EPIPE) so the program can stop cleanly.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "app/options.h"
#include "output/json_records.h"

namespace sockleak {

class RecordWriter {
 public:
  RecordWriter(Format format, std::FILE* out) : format_(format), out_(out) {}

  // Each returns false once the output is closed; nothing is written after that.
  bool write_report(const std::vector<ReportRow>& rows, const HostTotals& totals, const RecordContext& ctx);
  bool write_stats(const StatsSnapshot& stats, const RecordContext& ctx);
  bool closed() const { return closed_; }

 private:
  bool write(const std::string& text);
  Format format_;
  std::FILE* out_;
  bool closed_ = false;
};

}  // namespace sockleak
