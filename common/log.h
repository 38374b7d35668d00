// One event per line on stderr, with the sd-daemon priority prefix
// ("<3>" error ... "<7>" debug) so journald keeps the level, and no
// timestamp (the journal adds one). Fields are written as key=value:
//
//   QLOG(kInfo) << "node joined node=" << name << " session=" << session;
//
// Thread-safe: each line is written with a single write(2).
#ifndef QUARK_COMMON_LOG_H_
#define QUARK_COMMON_LOG_H_

#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace quark {

enum class LogLevel {
  kError = 3,
  kWarning = 4,
  kNotice = 5,
  kInfo = 6,
  kDebug = 7
};

// Lines below `level` (numerically above it) are dropped. Default kInfo.
void SetLogLevel(LogLevel level);

// `id` with every byte outside printable ASCII (and space) as '?': peers'
// routing ids are binary when libzmq made them, and a log line is text.
std::string Printable(absl::string_view id);
bool LogEnabled(LogLevel level);

// Parses "error", "warning", "notice", "info" or "debug".
bool ParseLogLevel(const std::string& text, LogLevel* level);

class LogLine {
 public:
  explicit LogLine(LogLevel level);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

}  // namespace quark

#define QLOG(level)                                     \
  if (!::quark::LogEnabled(::quark::LogLevel::level)) { \
  } else                                                \
    ::quark::LogLine(::quark::LogLevel::level).stream()

#endif  // QUARK_COMMON_LOG_H_
