// Carries out a parsed Command against the controller and decides what to
// print and which exit code to return, without printing anything itself.
#ifndef QUARK_CLI_RUN_H_
#define QUARK_CLI_RUN_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cli/client.h"
#include "cli/command.h"
#include "proto/quark.pb.h"

namespace quark {

struct RunOptions {
  // Time zone of the timestamps `quark job ID`, `quark token` and
  // `quark nodes --pending` print.
  absl::TimeZone zone = absl::UTCTimeZone();
  // The long poll of --wait: each Watch asks the controller to answer
  // within this. --wait gives up when the controller has been silent this
  // plus --timeout since its last reply (the Watch is sent again meanwhile:
  // see ApiClientOptions).
  absl::Duration watch_interval = absl::Seconds(1);
  // Called with the job after each Watch reply while waiting; may be empty.
  std::function<void(const proto::Job&)> progress;
  std::string version = "0.1.0";
  // Asks the person at the terminal `question` (yes or no) when a job
  // would take more than a day; empty when stdin is not a terminal (the
  // job is then submitted and the estimate printed).
  std::function<bool(const std::string& question)> confirm;
  // Prints a note for the person at once (before a long --wait); when
  // empty, notes go into Outcome.err.
  std::function<void(const std::string& note)> note;
  // stdout is a terminal: `quark jobs` then shows the newest 20 by default.
  bool terminal = false;
  // `quark top`: shows each frame at once (on a terminal, in place of the
  // last), and waits up to the interval between frames, false when
  // interrupted (Ctrl-C, the way to end it). Without them the frames go
  // into Outcome.out one after the other and there is no wait (tests).
  std::function<void(const std::string& frame)> show;
  std::function<bool(absl::Duration)> pause;
};

// What to print: `out` on stdout, then `err` on stderr whatever the
// status (notes for a person, kept out of what scripts read), then, when
// `status` is not OK, "quark: <message>" on stderr (and the UsageHint, if
// any).
struct Outcome {
  std::string out;
  absl::Status status;
  std::string err = {};  // `= {}`: {out, status} still initializes it
};

// The request for an api command (not help or version); the caller fills
// protocol_version and request_id.
proto::ApiRequest BuildRequest(const Command& command);

// Runs `command`, calling `api` as needed (help and version never do).
// Job FAILED or CANCELLED under --wait gives an Aborted status.
Outcome RunCommand(const Command& command, ApiCaller& api,
                   const RunOptions& options);

// The exit code for a status from ParseCommand or RunCommand:
//   0 OK
//   1 Aborted (job failed or cancelled), FailedPrecondition, and any other
//   2 InvalidArgument, NotFound, OutOfRange, Unimplemented (bad usage or
//     input, unknown job or node, protocol version mismatch)
//   3 DeadlineExceeded, Unavailable (controller unreachable)
int ExitCode(const absl::Status& status);

}  // namespace quark

#endif  // QUARK_CLI_RUN_H_
