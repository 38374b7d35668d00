// What a job's and a node's states mean, in one place: which job states
// are final, and the word for each node state that the controller's log
// and `quark nodes` both use.
#ifndef QUARK_COMMON_STATES_H_
#define QUARK_COMMON_STATES_H_

#include "proto/quark.pb.h"

namespace quark {

// DONE, FAILED or CANCELLED: the job ended and will not change again.
inline bool IsFinished(proto::JobState state) {
  return state == proto::DONE || state == proto::FAILED ||
         state == proto::CANCELLED;
}

// "queued", "running", "done", "failed", "cancelled"; "?" for anything
// else: as `quark jobs` prints them and the metrics label them.
inline const char* JobStateWord(proto::JobState state) {
  switch (state) {
    case proto::QUEUED:
      return "queued";
    case proto::RUNNING:
      return "running";
    case proto::DONE:
      return "done";
    case proto::FAILED:
      return "failed";
    case proto::CANCELLED:
      return "cancelled";
    default:
      return "?";
  }
}

// "active", "draining", "lost", "left", "evicted"; "?" for anything else.
inline const char* NodeStateWord(proto::NodeState state) {
  switch (state) {
    case proto::ACTIVE:
      return "active";
    case proto::DRAINING:
      return "draining";
    case proto::LOST:
      return "lost";
    case proto::LEFT:
      return "left";
    case proto::EVICTED:
      return "evicted";
    default:
      return "?";
  }
}

// "sample", "all", "none" (as `quark submit --verify` takes them); an
// unspecified mode is "sample".
inline const char* VerifyWord(proto::Verify verify) {
  switch (verify) {
    case proto::VERIFY_ALL:
      return "all";
    case proto::VERIFY_NONE:
      return "none";
    default:
      return "sample";
  }
}

// Draining and done: no lease left and its sieve stopped. `quark nodes`
// and the status page say "drained".
inline bool IsDrained(const proto::Node& node) {
  return node.state() == proto::DRAINING && node.leases() == 0 &&
         !node.sieving();
}

// What a connected node is doing, in one word as `quark nodes` and the
// status page show it: "suspect" (found wrong: no work until `quark
// trust`), "drained", or its state's word.
inline const char* NodeWord(const proto::Node& node) {
  const bool connected =
      node.state() == proto::ACTIVE || node.state() == proto::DRAINING;
  if (connected && node.suspect()) return "suspect";
  if (IsDrained(node)) return "drained";
  return NodeStateWord(node.state());
}

}  // namespace quark

#endif  // QUARK_COMMON_STATES_H_
