// One simulated worker for the controller load test: the real worker's
// session (worker/session.h) with the sieve faked.
//
// The protocol is the real worker's own code: registration, credits,
// heartbeats, loss detection and backoff, cancellation, results kept until
// acked and pushed again, the graceful leave. Only the executor is
// simulated: each task the session starts "computes" for `fake_task` of
// wall time (or a uniformly drawn time up to `fake_task_max`) and yields
// an empty Partial (count 0: the job's answer is meaningless, only the
// controller's load matters).
//
// On top of the session it counts what went each way, and reports for each
// acked result the time from its first push to its Ack.
//
// Pure logic: every call takes `now` and appends what to do to an Actions;
// the I/O loop (fleet.h) owns the sockets. Not thread-safe.
#ifndef QUARK_BENCH_LOAD_SIM_WORKER_H_
#define QUARK_BENCH_LOAD_SIM_WORKER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "proto/quark.pb.h"
#include "worker/session.h"

namespace quark {

struct SimWorkerOptions {
  std::string name;          // node name and DEALER routing id
  uint64_t incarnation = 1;  // nonzero, fresh per process
  uint32_t credits = 2;      // assignments held at once
  // Wall time one assignment takes to "compute".
  absl::Duration fake_task = absl::ZeroDuration();
  // Greater than fake_task: each assignment takes a time drawn uniformly
  // from [fake_task, fake_task_max], from a generator seeded with `seed`.
  absl::Duration fake_task_max = absl::ZeroDuration();
  uint64_t seed = 1;
  // compute_us reported in each result. The controller sizes tasks from
  // the rate it implies; a slow reported rate keeps tasks at the minimum
  // size even when fake_task is zero. Negative: report the time taken.
  absl::Duration reported_compute = absl::Milliseconds(-1);
  // How long Leave waits for the running task and the last Acks.
  absl::Duration drain_timeout = absl::Seconds(2);
  // As SessionOptions: an unacknowledged result is pushed again after
  // this long; at most max_unacked are kept.
  absl::Duration resend_after = absl::Seconds(5);
  size_t max_unacked = 1024;
};

struct SimCounters {
  uint64_t welcomes = 0, assigns = 0, results = 0, cancels = 0;
  uint64_t rejects = 0, heartbeats_in = 0, heartbeats_out = 0;
  uint64_t acks = 0;          // Ack messages
  uint64_t acked = 0;         // results acked, the first Ack of each
  uint64_t unknown_acks = 0;  // leases acked again, or never pushed
  uint64_t resends = 0;       // results pushed again
};

class SimWorker {
 public:
  struct Actions {
    bool reconnect = false;               // open a fresh control DEALER
    std::vector<proto::ControlMsg> send;  // then send these on it
    std::vector<proto::ResultMsg> push;   // on the collector PUSH
    std::string collector;                // non-empty: connect it
    // For each result acked: the time from its first push to the Ack.
    std::vector<absl::Duration> acked;
  };

  explicit SimWorker(SimWorkerOptions options);

  // First Hello; call once when the DEALER is connected.
  void Start(absl::Time now, Actions* out);
  void OnControl(const proto::ControlMsg& msg, absl::Time now, Actions* out);
  // Time passes: finishes the running task when due, heartbeats,
  // re-registers.
  void OnTick(absl::Time now, Actions* out);
  // When OnTick next has something to do.
  absl::Time NextDeadline() const;
  // Starts the graceful leave (done() once it is over); a second call
  // leaves at once.
  void Leave(absl::Time now, Actions* out);

  bool registered() const {
    return session_->state() == Session::State::kRegistered;
  }
  bool done() const { return session_->state() == Session::State::kDone; }
  size_t in_flight() const {
    return session_->waiting() + (session_->running() ? 1 : 0);
  }
  size_t unacked() const { return session_->unacked(); }
  uint64_t dropped() const { return session_->dropped_unacked(); }
  const std::string& name() const { return options_.name; }
  const SimCounters& counters() const { return counters_; }

 private:
  // The fake executor's one task.
  struct Running {
    uint64_t lease = 0;
    absl::Time started, done_at;
    bool stopped = false;  // the session stopped it: it ends as Cancelled
  };

  void Carry(SessionActions actions, absl::Time now, Actions* out);
  void CountIncoming(const proto::ControlMsg& msg, absl::Time now,
                     Actions* out);
  absl::Duration DrawTask();

  const SimWorkerOptions options_;
  std::unique_ptr<Session> session_;  // not movable; SimWorker is
  std::optional<Running> running_;
  // First push of each result not acked yet, by lease: for the latency.
  absl::flat_hash_map<uint64_t, absl::Time> first_push_;
  std::mt19937_64 random_;
  SimCounters counters_;
};

}  // namespace quark

#endif  // QUARK_BENCH_LOAD_SIM_WORKER_H_
