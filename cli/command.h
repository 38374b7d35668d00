// The quark command line, parsed into a Command. Pure: the environment the
// parser needs (QUARK_CONTROLLER) is passed in.
//
//   quark [global options] COMMAND [ARGS] [options]
//
// Options may come before or after the command and its arguments, as
// `--opt=value` or `--opt value`; `--` ends the options.
#ifndef QUARK_CLI_COMMAND_H_
#define QUARK_CLI_COMMAND_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/token.h"  // kMaxTokenTtl, kMaxTokenUses
#include "proto/quark.pb.h"

namespace quark {

inline constexpr char kDefaultController[] = "tcp://127.0.0.1:7702";
// The port of a --controller given as HOST alone: the controller's API.
inline constexpr int kDefaultApiPort = 7702;

enum class Verb {
  kHelp,  // print the usage of `topic` (or the general usage) and exit 0
  kVersion,
  kSubmit,
  kJobs,
  kJob,
  kCancel,
  kNodes,
  kDrain,
  kUndrain,
  kTrust,        // clear a node's suspect mark
  kKeygen,       // write NAME.key and NAME.pub; no controller involved
  kTokenCreate,  // `quark token create`
  kTokenList,
  kTokenRevoke,
  kApprove,  // a node waiting with an approval token
  kReject,
  kTop,  // nodes and jobs, refreshed until Ctrl-C
};

struct Command {
  Verb verb = Verb::kHelp;
  std::string topic;  // kHelp: a command name, or empty for the overview

  // Global options.
  // As typed (HOST, HOST:PORT) until ParseCommand makes it tcp://HOST:PORT.
  std::string controller = kDefaultController;
  bool controller_from_flag =
      false;  // else from QUARK_CONTROLLER or the default
  absl::Duration timeout = absl::Seconds(5);
  bool json = false;
  // CURVE: this operator's secret key file and the controller's public
  // key file; both or neither (QUARK_KEY, QUARK_CONTROLLER_KEY).
  std::string key;
  std::string controller_key;

  bool wait = false;  // submit, job
  // submit: the inclusive range [lo, hi].
  proto::Kind kind = proto::KIND_UNSPECIFIED;
  uint64_t lo = 0;
  uint64_t hi = 0;
  int32_t priority = 0;
  proto::Verify verify = proto::VERIFY_SAMPLE;  // submit --verify
  bool yes = false;  // submit: no question about a very long job

  uint64_t job_id = 0;   // job, cancel
  std::string node;      // drain, undrain, approve, reject
  bool pending = false;  // nodes --pending: those waiting for approval
  // jobs: the newest `limit` jobs (0: all; -1: not given, which is 20 on a
  // terminal and all otherwise), of the `states` given (empty: any).
  int limit = -1;
  std::set<proto::JobState> states;
  std::string name;       // keygen
  std::string dir = ".";  // keygen --dir

  // token create: how long the token works (zero: for ever), how many
  // nodes may join with it (0: any number), and whether they wait for
  // `quark approve`.
  absl::Duration ttl = absl::Hours(24);
  uint32_t uses = 0;
  bool approve = false;
  std::string token_id;  // token revoke: 8 characters of [a-z2-7]

  // top: how often it refreshes, and how many times (0: until Ctrl-C; -1:
  // not given, which is until Ctrl-C on a terminal and once otherwise).
  absl::Duration interval = absl::Seconds(2);
  int iterations = -1;
};

// Parses the arguments after the program name. `env_controller` is the value
// of QUARK_CONTROLLER (empty when unset). On failure the error (code
// InvalidArgument or OutOfRange, one line) carries a hint such as
// "see 'quark submit --help'" that UsageHint() returns.
// `env_key` and `env_controller_key` are QUARK_KEY and QUARK_CONTROLLER_KEY,
// which --key and --controller_key override.
absl::StatusOr<Command> ParseCommand(
    const std::vector<std::string>& args, const std::string& env_controller,
    const std::string& env_key = "",
    const std::string& env_controller_key = "");

// The hint line attached to a usage error, or "" when there is none.
std::string UsageHint(const absl::Status& status);

// Parses "5s", "500ms", "2m" (absl::ParseDuration) or a bare number of
// seconds ("5", "0.5"); the result must be positive and finite.
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text);

// Parses a token's --ttl: a bare number of seconds ("3600"), an
// absl::ParseDuration form ("24h", "1h30m", "90s"), days with an optional
// rest ("7d", "1d12h"), or 0 for never. Refuses anything negative,
// infinite, under a second or over kMaxTokenTtl (InvalidArgument, one line
// naming the accepted forms).
absl::StatusOr<absl::Duration> ParseTokenTtl(const std::string& text);

}  // namespace quark

#endif  // QUARK_CLI_COMMAND_H_
