// `quark-worker join TOKEN`: all a node needs to join a cluster
// (docs/operations.md, "A Pi cluster from nothing").
//
// It checks the token, saves it in the worker's state directory (mode
// 0600, owned by the `quark` user the unit runs as, out of every log), and,
// where systemd runs, enables and restarts quark-worker.service and follows
// its STATUS= until the node has joined, waits for approval, or was
// refused. The daemon does the joining itself (worker/joiner.h): this only
// hands it the token, so there is one way in.
//
// `quark-worker join --boot` is the unit's ExecStartPre (as root): it
// takes a token left in a file `quark-join` on the boot partition by
// whoever prepared the SD card from another OS, saves it as above, and
// removes the file, which the FAT partition lets everyone read.
#ifndef QUARK_WORKER_JOIN_COMMAND_H_
#define QUARK_WORKER_JOIN_COMMAND_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace quark {

struct JoinCommandOptions {
  // As typed; "" or "-": read from stdin (a prompt on a terminal), which
  // keeps it out of sudo's log and `ps`. Unused with `boot`.
  std::string token;
  bool boot = false;  // take it from boot_files instead
  std::vector<std::string> boot_files = {"/boot/firmware/quark-join",
                                         "/boot/quark-join"};
  std::string state_dir = "/var/lib/quark-worker";
  std::string user = "quark";  // owns the saved token when run as root
  std::string unit = "quark-worker.service";
  // How long to follow the unit once restarted.
  absl::Duration follow = absl::Seconds(60);
};

// Does it, printing what it does; returns the exit code: 0 joined (or
// waiting for approval, or saved for a worker to start by hand), 1 when
// the node could not join, 2 for a bad token.
int RunJoinCommand(const JoinCommandOptions& options);

}  // namespace quark

#endif  // QUARK_WORKER_JOIN_COMMAND_H_
