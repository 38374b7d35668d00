// Configuration files for the daemons (/etc/quark/worker.conf,
// /etc/quark/controller.conf): one setting per line, each naming an absl
// flag of the binary without its dashes.
//
//   # The controller's control endpoint.
//   controller = tcp://10.0.0.1:7700
//   threads = 4
//   name = "pi-07"
//
// Blank lines and lines starting with '#' are ignored; whitespace around
// keys and values is trimmed; a value may be quoted with "..." (inside, \"
// and \\ are escapes) to keep surrounding spaces or a '#'. A '#' in an
// unquoted value is an error, not a trailing comment, so that a mistyped
// endpoint is never silently cut short. A setting given on the command
// line wins over the file.
//
// Every error message starts with "PATH:LINE: " (or "PATH: " for a file
// that cannot be read), ready to be printed after the program's name.
#ifndef QUARK_COMMON_CONFIG_H_
#define QUARK_COMMON_CONFIG_H_

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/command_line.h"

namespace quark {

struct ConfigEntry {
  std::string key;
  std::string value;  // Unquoted.
  int line = 0;       // 1-based.
};

// Parses the text of a config file; `path` only names it in errors.
// InvalidArgument for a line that is not `key = value`, a bad quote, or a
// key given twice. Knows nothing of flags: see ApplyConfig.
absl::StatusOr<std::vector<ConfigEntry>> ParseConfig(absl::string_view text,
                                                     absl::string_view path);

// Sets the absl flag named by each entry from its value (SetFlagFromText,
// common/command_line.h), except flags in `on_command_line`
// (CommandLine::given), which keep their command-line value. Errors
// (InvalidArgument) for a key that is no flag of this binary, for
// "config", and for a value the flag cannot parse; flags set before the
// error keep their new values, so the caller should exit.
absl::Status ApplyConfig(const std::vector<ConfigEntry>& entries,
                         absl::string_view path,
                         const std::set<std::string>& on_command_line);

// "PATH:LINE" of the config line that set `flag` (without dashes), or ""
// when no file set it.
std::string ConfigOrigin(absl::string_view flag);

// For a validation error about a flag ("--threads must be in [0, 1024]"):
// when a config file set that flag, the same error prefixed with the
// file and line ("/etc/quark/worker.conf:7: --threads must be ..."), so
// a value that parses but is out of range is found like a bad line.
absl::Status WithConfigOrigin(const absl::Status& status);

// Reads, parses and applies the file at `path`. A missing file is fine
// (OK, nothing set) unless `required`; then, and for any other read
// error, the result is an error naming the path.
absl::Status LoadConfigFile(const std::string& path, bool required,
                            const std::set<std::string>& on_command_line);

// What each daemon does first, in this order: parses the command line by
// `spec` (common/command_line.h); loads the settings file that --config
// names, whose settings the command line overrides (a missing file is fine
// unless --config was given); sets the log level from --log_level. The
// binary defines both flags. When a step fails, or after --help and
// --version, the result's `exit` is set and the reason is on stderr in one
// line after the program's name: exit with it.
CommandLine LoadDaemonSettings(int argc, char** argv,
                               const CommandLineSpec& spec);

}  // namespace quark

#endif  // QUARK_COMMON_CONFIG_H_
