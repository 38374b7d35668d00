// Joining a cluster with a token, before the worker's session starts:
// find the controller (its `controller` setting, else its LAN beacon,
// common/beacon.h), then enroll this node's key over CURVE on the
// controller's enroll socket (docs/protocol.md, "Enrollment"), pinning
// the controller's key the token carries.
//
//   Joiner joiner(options, signals, systemd);
//   absl::StatusOr<JoinResult> joined = joiner.Run();
//
// A node waiting for the operator's approval asks again every few seconds
// and says so in its log and STATUS=; an unreachable controller is retried
// with backoff, and a discovered one is looked for again (its address may
// have changed, or the beacon lied). Only the controller's refusal (a bad
// token, a rejected node) ends it with PermissionDenied; SIGTERM or SIGINT
// end it with Cancelled; other errors are local (a port, a socket).
//
// Owns its own zmq context, closed when Run returns. One thread.
#ifndef QUARK_WORKER_JOINER_H_
#define QUARK_WORKER_JOINER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <zmq.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/keys.h"
#include "common/sd_notify.h"
#include "common/signals.h"
#include "common/token.h"
#include "proto/quark.pb.h"

namespace quark {

struct JoinOptions {
  JoinToken token;
  KeyPair own;          // this node's key, the one being enrolled
  std::string name;     // the name it asks for
  std::string machine;  // its machine hash
  // Where the controller is, when set; else the beacon says.
  std::string controller;  // control endpoint, "tcp://host:7700"
  std::string enroll;      // enroll endpoint; default host of controller:7703
  uint16_t beacon_port = 7700;
  // A request unanswered this long is sent again on a fresh connection.
  absl::Duration reply_timeout = absl::Seconds(5);
  absl::Duration max_backoff = absl::Seconds(30);
};

struct JoinResult {
  std::string name;            // what the controller calls this node
  std::string controller;      // control endpoint to say Hello on
  std::string controller_key;  // Z85, as the token pinned it
};

class Joiner {
 public:
  // `signals` and `systemd` must outlive this.
  Joiner(JoinOptions options, ShutdownSignals* signals,
         SystemdNotifier* systemd);
  ~Joiner();
  Joiner(const Joiner&) = delete;
  Joiner& operator=(const Joiner&) = delete;

  // Until enrolled (or refused, or stopped).
  absl::StatusOr<JoinResult> Run();

  // For a node enrolled already and with no `controller` setting: the
  // control endpoint of the controller whose beacon carries the token's
  // key, heard within `wait`; "" when none was. Cancelled on a signal.
  absl::StatusOr<std::string> FindControl(absl::Duration wait);

 private:
  struct Found {
    std::string control;
    std::string enroll;
  };
  // The controller's endpoints from the settings or its beacon.
  absl::StatusOr<Found> Locate();
  // NotFound when no beacon with the token's key came by `deadline`.
  absl::StatusOr<Found> ListenForBeacon(absl::Time deadline);
  // One request and its reply; nullopt when none came in time.
  absl::StatusOr<std::optional<proto::EnrollReply>> Ask(
      const std::string& enroll);
  // Sleeps `d`, or less when a signal comes (then Cancelled).
  absl::Status Sleep(absl::Duration d);
  absl::Status CheckSignal();
  void SetStatus(const std::string& line);
  void Tick();

  const JoinOptions options_;
  ShutdownSignals* const signals_;
  SystemdNotifier* const systemd_;
  std::unique_ptr<zmq::context_t> context_;
  std::string status_;  // the last STATUS= line
  // Enroll endpoints found by a beacon that did not answer: passed over
  // while another is heard (a beacon may lie).
  std::set<std::string> failed_;
};

}  // namespace quark

#endif  // QUARK_WORKER_JOINER_H_
