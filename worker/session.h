// The worker's side of the control protocol (docs/protocol.md, steps 1-9)
// as a pure state machine: registration, credits, heartbeats, loss
// detection with exponential backoff, re-registration, cancellation,
// acknowledged results and the graceful leave.
//
// Every call takes an event and `now` and returns the actions for the I/O
// loop to carry out, in this order: reconnect the control socket, send
// `send` on it, connect the collector, push `push`, start `start` on the
// executor, then stop if `exit` is set. The session owns no socket, reads
// no clock and starts no thread, so a test drives it with a fake time.
//
// The session keeps the queue of assignments not started yet and knows
// which one the executor is running; it hands the executor one task at a
// time, and only when the previous one has been reported finished.
//
// Every result it pushes stays kept until the controller acknowledges its
// lease with Ack; a kept result is pushed again, under the current session,
// right after each Welcome and whenever it has waited `resend_after` since
// its last push (at-least-once delivery: the controller merges a task once).
// Credits do not wait for Acks: one goes back when a task finishes.
//
// Not thread-safe: the I/O thread drives it.
#ifndef QUARK_WORKER_SESSION_H_
#define QUARK_WORKER_SESSION_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/rate.h"
#include "proto/quark.pb.h"
#include "worker/unacked_results.h"

namespace quark {

struct SessionOptions {
  // Node name, also the DEALER's routing id; and where the controller is
  // (for log lines only).
  std::string node;
  std::string controller;
  // Told to the controller in Hello.
  uint32_t cores = 1;
  uint32_t threads = 1;
  // Bytes this node may sieve with (0: unknown), so that the controller
  // gives it no task it cannot hold (common/sieve_cost.h).
  uint64_t memory_budget = 0;
  // A fresh random nonzero number per process start.
  uint64_t incarnation = 1;
  // Assignments the worker holds at once (running plus waiting).
  uint32_t credits = 2;
  // How long a graceful leave waits for the running task.
  absl::Duration drain_timeout = absl::Seconds(30);
  // Heartbeat cadence and liveness until a Welcome says otherwise.
  absl::Duration heartbeat_interval = absl::Seconds(1);
  int liveness = 3;
  // Delay before the first Hello is repeated, doubling up to the maximum.
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(32);
  // A pushed result nobody acknowledged is pushed again after this long,
  // while the worker is registered or leaving; the others kept that have
  // waited at least half as long go with it, in one batch.
  absl::Duration resend_after = absl::Seconds(5);
  // Most results kept unacknowledged. Beyond it the oldest is dropped with
  // a warning: a bound on memory that credit-based flow control should
  // never let the worker reach. 0 keeps none (at-most-once).
  size_t max_unacked = 1024;
};

struct SessionActions {
  // Close the control socket and open a fresh one (drops what it queued).
  bool reconnect = false;
  // Control messages to send, in order.
  std::vector<proto::ControlMsg> send;
  // Non-empty: (re)connect the collector socket to this endpoint, as the
  // Welcome gave it (a bind address such as tcp://*:7701).
  std::string connect_collector;
  // Results to push to the collector: new ones and unacknowledged ones
  // pushed again.
  std::vector<proto::ResultMsg> push;
  // A task for the executor, which is idle.
  std::optional<proto::Assign> start;
  // Leases whose sieving to stop now: their results would be thrown away
  // (a Cancel, the drain timeout, a leave while the task is cancelled).
  std::vector<uint64_t> stop;
  // Stop: OK for a graceful leave (exit 0), an error when the controller
  // refused this worker (exit 1), PermissionDenied when the operator
  // rejected it for good (exit 2).
  std::optional<absl::Status> exit;
};

class Session {
 public:
  // kLeaving: finishing the running task. kAwaitingAcks: the Goodbye is
  // sent; waiting, until the drain timeout, for the Acks of the results
  // still kept.
  enum class State {
    kIdle,
    kJoining,
    kRegistered,
    kLeaving,
    kAwaitingAcks,
    kDone
  };

  explicit Session(SessionOptions options);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Says the first Hello. The control socket is fresh: no reconnect.
  SessionActions Start(absl::Time now);

  // Time passes: heartbeats, Hello retries, loss detection, results pushed
  // again, drain timeout.
  SessionActions OnTick(absl::Time now);

  // A message from the controller. Malformed or unexpected ones are
  // logged and change nothing.
  SessionActions OnMessage(const proto::ControlMsg& msg, absl::Time now);

  // The executor finished the task of `lease`, with its partial or the
  // error that stopped it, after `compute` of wall time.
  SessionActions OnTaskFinished(uint64_t lease,
                                const absl::StatusOr<proto::Partial>& partial,
                                absl::Duration compute, absl::Time now);

  // SIGTERM or SIGINT: leave gracefully (finish the running task, push its
  // result, say Goodbye, wait for the Acks of the kept results; all within
  // the drain timeout, and exit OK even when it passes, stopping the task);
  // a running task already cancelled is stopped at once rather than waited
  // for; a second request leaves at once.
  SessionActions OnShutdown(absl::Time now);

  // The TCP connection to the controller dropped (a reset, a restart).
  // Messages that were in flight on it are gone both ways, Assigns and
  // Readys among them, so a registered worker says Hello again: the
  // controller then puts whatever this node held back in the queue, and
  // credits start afresh. Registration is the one resynchronization.
  SessionActions OnDisconnected(absl::Time now);

  // The controller was heard at another address (its beacon) while this
  // worker is still trying to register: say Hello there at once, on a
  // fresh control socket, instead of backing off at the old one.
  SessionActions OnControllerMoved(absl::Time now);

  // The node's hardware as just read (worker/health.h): sent with every
  // heartbeat from now on. A task running while the firmware says
  // under-voltage or throttled (now, or newly since boot) has its result
  // marked with those bits (ResultMsg.throttled_bits).
  void SetHealth(proto::Health health);

  // When OnTick next has something to do; InfiniteFuture when nothing.
  absl::Time NextDeadline() const;

  const SessionOptions& options() const { return options_; }
  State state() const { return state_; }
  uint64_t session() const { return session_; }  // 0 when not registered
  size_t waiting() const { return waiting_.size(); }
  bool running() const { return running_.has_value(); }
  // Numbers sieved per second, averaged over the recent tasks (0 before
  // the first).
  double rate() const { return rate_.value(); }
  size_t unacked() const { return unacked_.size(); }
  // Results dropped unacknowledged past max_unacked, since the start.
  uint64_t dropped_unacked() const { return dropped_unacked_; }

 private:
  struct Running {
    proto::Assign assign;
    uint64_t session = 0;    // the session it was assigned under
    bool cancelled = false;  // its result is discarded
    // The firmware's conditions seen while it ran (common/health.h bits
    // 0-3), and its since-boot bits when it started.
    uint32_t throttled = 0;
    uint32_t since_boot_at_start = 0;
  };

  void SendHello(bool reconnect, absl::Time now, SessionActions* out);
  void Rejoin(const char* why, bool reconnect, absl::Time now,
              SessionActions* out);
  void OnWelcome(const proto::Welcome& welcome, absl::Time now,
                 SessionActions* out);
  void OnAssign(const proto::Assign& assign, absl::Time now,
                SessionActions* out);
  void OnCancel(const proto::Cancel& cancel, absl::Time now,
                SessionActions* out);
  void OnReject(const proto::Reject& reject, absl::Time now,
                SessionActions* out);
  void OnAck(const proto::Ack& ack, SessionActions* out);
  void BeginLeave(absl::Time now, SessionActions* out);
  void Finish(absl::Time now, SessionActions* out);
  void SayGoodbye(SessionActions* out);
  void Exit(SessionActions* out);
  void PushResult(proto::ResultMsg result, absl::Time now, SessionActions* out);
  proto::ResultMsg ResultFor(const proto::Assign& a, uint64_t session) const;
  void RepushDue(absl::Time now, SessionActions* out);
  void Repush(absl::Time pushed_by, const char* why, absl::Time now,
              SessionActions* out);
  void GrantCredits(uint32_t credits, absl::Time now, SessionActions* out);
  void SendControl(proto::ControlMsg msg, absl::Time now, SessionActions* out);
  void DropWaiting(const char* why);
  void StartNext(SessionActions* out);

  const SessionOptions options_;
  State state_ = State::kIdle;
  uint64_t session_ = 0;
  absl::Duration heartbeat_interval_;
  int liveness_;
  absl::Duration backoff_;
  absl::Time next_hello_ = absl::InfiniteFuture();
  absl::Time last_heard_ = absl::InfinitePast();
  absl::Time last_sent_ = absl::InfinitePast();
  absl::Time leave_deadline_ = absl::InfiniteFuture();
  std::deque<proto::Assign> waiting_;
  std::optional<Running> running_;
  RateEstimate rate_;  // numbers per second
  proto::Health health_;
  UnackedResults unacked_;
  uint64_t dropped_unacked_ = 0;
};

}  // namespace quark

#endif  // QUARK_WORKER_SESSION_H_
