// One simulated worker for the controller load test: the worker's side of
// the control protocol (docs/protocol.md) with the sieve faked.
//
// A SimWorker registers (Hello, then Ready{credits} on Welcome), answers
// the controller's heartbeats at the Welcome's cadence, and runs its
// assignments one at a time, each taking `fake_task` of wall time (or a
// uniformly drawn time up to `fake_task_max`) and producing a ResultMsg
// with an empty Partial (count 0: the job's answer is meaningless, only the
// controller's load matters). It re-registers on Reject{reregister} or
// after `liveness` silent intervals.
//
// Like the real worker (worker/session.h, with the same UnackedResults) it
// keeps each result until an Ack names its lease, pushes it again after
// every Welcome and once it has waited `resend_after`, and reports for each
// acked result the time from its first push to its Ack.
//
// Pure logic: every call takes `now` and appends what to send to an
// Actions; the I/O loop (fleet.h) owns the sockets. Not thread-safe.
#ifndef QUARK_BENCH_LOAD_SIM_WORKER_H_
#define QUARK_BENCH_LOAD_SIM_WORKER_H_

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "proto/quark.pb.h"
#include "worker/unacked_results.h"

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
  // size even when fake_task is zero. Negative: report fake_task.
  absl::Duration reported_compute = absl::Milliseconds(-1);
  // Hello is repeated this often while no Welcome comes.
  absl::Duration hello_retry = absl::Seconds(2);
  // An unacknowledged result is pushed again after this long (as the real
  // worker does); at most max_unacked are kept, the oldest dropped.
  absl::Duration resend_after = absl::Seconds(5);
  size_t max_unacked = 1024;
};

struct SimCounters {
  uint64_t welcomes = 0, assigns = 0, results = 0, cancels = 0;
  uint64_t rejects = 0, heartbeats_in = 0, heartbeats_out = 0;
  uint64_t acks = 0;          // Ack messages
  uint64_t acked = 0;         // results acked (their lease was kept)
  uint64_t unknown_acks = 0;  // leases acked that were not kept
  uint64_t resends = 0;       // results pushed again
  uint64_t dropped = 0;       // unacked results dropped past max_unacked
};

class SimWorker {
 public:
  struct Actions {
    std::vector<proto::ControlMsg> send;  // on the control DEALER
    std::vector<proto::ResultMsg> push;   // on the collector PUSH
    std::string collector;                // non-empty: connect it
    // For each result acked: the time from its first push to the Ack.
    std::vector<absl::Duration> acked;
  };

  explicit SimWorker(SimWorkerOptions options);

  // First Hello; call once when the DEALER is connected.
  void Start(absl::Time now, Actions* out);
  void OnControl(const proto::ControlMsg& msg, absl::Time now, Actions* out);
  // Time passes: finishes due assignments, heartbeats, re-registers.
  void OnTick(absl::Time now, Actions* out);
  // When OnTick next has something to do.
  absl::Time NextDeadline() const;
  // Says Goodbye when registered.
  void Leave(Actions* out);

  bool registered() const { return session_ != 0; }
  size_t in_flight() const { return queue_.size(); }
  size_t unacked() const { return unacked_.size(); }
  const SimCounters& counters() const { return counters_; }

 private:
  void SendHello(absl::Time now, Actions* out);
  void SendReady(uint32_t credits, Actions* out);
  void OnWelcome(const proto::Welcome& welcome, absl::Time now, Actions* out);
  void OnCancel(const proto::Cancel& cancel, absl::Time now, Actions* out);
  void OnAck(const proto::Ack& ack, absl::Time now, Actions* out);
  void Finish(absl::Time now, Actions* out);
  void Repush(absl::Time pushed_by, absl::Time now, Actions* out);
  absl::Duration Reported() const;
  absl::Duration DrawTask();

  struct Queued {
    proto::Assign assign;
    absl::Duration takes;
  };

  const SimWorkerOptions options_;
  uint64_t session_ = 0;
  absl::Duration heartbeat_ = absl::Seconds(1);
  int liveness_ = 3;
  absl::Time last_heard_, next_heartbeat_, next_hello_;
  // Assignments in order; the front one runs since running_since_.
  std::deque<Queued> queue_;
  absl::Time running_since_;
  UnackedResults unacked_;
  // (lease, first push) of each kept result, oldest first.
  std::deque<std::pair<uint64_t, absl::Time>> first_push_;
  std::mt19937_64 random_;
  SimCounters counters_;
};

}  // namespace quark

#endif  // QUARK_BENCH_LOAD_SIM_WORKER_H_
