// One simulated worker for the controller load test: the worker's side of
// the control protocol (docs/protocol.md) with the sieve faked.
//
// A SimWorker registers (Hello, then Ready{credits} on Welcome), answers
// the controller's heartbeats at the Welcome's cadence, and runs its
// assignments one at a time, each taking `fake_task` of wall time and
// producing a ResultMsg with an empty Partial (count 0: the job's answer is
// meaningless, only the controller's load matters). It re-registers on
// Reject{reregister} or after `liveness` silent intervals.
//
// Pure logic: every call takes `now` and appends what to send to an
// Actions; the I/O loop (fleet.h) owns the sockets. Not thread-safe.
#ifndef QUARK_BENCH_LOAD_SIM_WORKER_H_
#define QUARK_BENCH_LOAD_SIM_WORKER_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "proto/quark.pb.h"

namespace quark {

struct SimWorkerOptions {
  std::string name;            // node name and DEALER routing id
  uint64_t incarnation = 1;    // nonzero, fresh per process
  uint32_t credits = 2;        // assignments held at once
  // Wall time one assignment takes to "compute".
  absl::Duration fake_task = absl::ZeroDuration();
  // compute_us reported in each result. The controller sizes tasks from
  // the rate it implies; a slow reported rate keeps tasks at the minimum
  // size even when fake_task is zero. Negative: report fake_task.
  absl::Duration reported_compute = absl::Milliseconds(-1);
  // Hello is repeated this often while no Welcome comes.
  absl::Duration hello_retry = absl::Seconds(2);
};

struct SimCounters {
  uint64_t welcomes = 0, assigns = 0, results = 0, cancels = 0;
  uint64_t rejects = 0, heartbeats_in = 0, heartbeats_out = 0, acks = 0;
};

class SimWorker {
 public:
  struct Actions {
    std::vector<proto::ControlMsg> send;    // on the control DEALER
    std::vector<proto::ResultMsg> push;     // on the collector PUSH
    std::string collector;                  // non-empty: connect it
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
  const SimCounters& counters() const { return counters_; }

 private:
  void SendHello(absl::Time now, Actions* out);
  void SendReady(uint32_t credits, Actions* out);
  void OnWelcome(const proto::Welcome& welcome, absl::Time now, Actions* out);
  void OnCancel(const proto::Cancel& cancel, absl::Time now, Actions* out);
  void Finish(absl::Time now, Actions* out);
  absl::Duration Reported() const;

  const SimWorkerOptions options_;
  uint64_t session_ = 0;
  absl::Duration heartbeat_ = absl::Seconds(1);
  int liveness_ = 3;
  absl::Time last_heard_, next_heartbeat_, next_hello_;
  // Assignments in order; the front one runs since running_since_.
  std::deque<proto::Assign> queue_;
  absl::Time running_since_;
  SimCounters counters_;
};

}  // namespace quark

#endif  // QUARK_BENCH_LOAD_SIM_WORKER_H_
