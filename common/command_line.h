// A daemon's command line, parsed over absl's public flag API
// (absl::FindCommandLineFlag, CommandLineFlag::ParseFrom) so that the
// daemon, not absl, decides what happens:
//
//   --help, --helpfull, --helpshort  the daemon's own flags by group, with
//                                    their defaults, on stdout; exit 0
//   --version                        "quark-worker 0.1.0" on stdout; exit 0
//   an unknown flag, a bad value     one line on stderr; exit 2, the code
//                                    of a bad setting, which systemd does
//                                    not restart on (docs/operations.md)
//
// The syntax is absl's: --name=value, --name value (not for a bool),
// -name, --name and --noname for a bool, and a lone "--" before arguments
// that start with a dash. absl's own flags (--flagfile, --fromenv, ...)
// are not offered: every setting is the daemon's, and a config file
// (common/config.h) does what --flagfile would.
#ifndef QUARK_COMMON_COMMAND_LINE_H_
#define QUARK_COMMON_COMMAND_LINE_H_

#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/strings/string_view.h"

namespace quark {

struct FlagGroup {
  std::string title;               // e.g. "Joining"
  std::vector<std::string> flags;  // names without dashes, in the order shown
};

struct CommandLineSpec {
  std::string program;  // "quark-worker"
  std::string version;  // "0.1.0"
  std::string usage;    // the synopsis above the flags, ending in '\n'
  std::vector<FlagGroup> groups;
};

struct CommandLine {
  std::vector<std::string> args;  // the positional arguments, in order
  std::set<std::string> given;    // flags set on the command line
  // Set when the program should end now with this code: after --help or
  // --version (0), or after a bad flag (2; the line is on stderr).
  std::optional<int> exit;
};

// Sets the flags that argv[1..] names. `out` takes --help and --version,
// `err` the error line.
CommandLine ParseCommandLine(int argc, char** argv, const CommandLineSpec& spec,
                             std::FILE* out = stdout, std::FILE* err = stderr);

// The flag named `name` (without dashes) that the daemon offers: one of
// the binary's own, not absl's (--flagfile, --fromenv...); null otherwise.
absl::CommandLineFlag* FindSetting(absl::string_view name);

// Sets `flag` from `value` as the daemons read values, from the command
// line and from config files alike: a duration may also be a bare number of
// seconds ("30" is 30s). On failure `error` says what form is wanted, e.g.
// "expected a whole number".
bool SetFlagFromText(absl::CommandLineFlag& flag, absl::string_view value,
                     std::string* error);

// The --help text: spec.usage, then each group's flags with their help and
// defaults; a flag of the binary's own (absl's excepted) in no group comes
// last under "Other".
std::string HelpText(const CommandLineSpec& spec);

}  // namespace quark

#endif  // QUARK_COMMON_COMMAND_LINE_H_
