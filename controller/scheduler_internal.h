// The scheduler's own records, shared by its implementation files
// (scheduler.cc: events and scheduling; scheduler_durability.cc: what is
// stored and restored). Not part of the scheduler's interface.
#ifndef QUARK_CONTROLLER_SCHEDULER_INTERNAL_H_
#define QUARK_CONTROLLER_SCHEDULER_INTERNAL_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "common/kinds.h"
#include "common/rate.h"
#include "controller/range_accumulator.h"
#include "controller/scheduler.h"
#include "proto/quark.pb.h"

namespace quark {

// One node's result for a task not merged yet.
struct Scheduler::Vote {
  std::string node;
  proto::Partial partial;
};

struct Scheduler::Task {
  uint64_t id = 0;
  uint64_t job = 0;
  uint64_t lo = 0, hi = 0;
  uint32_t attempts = 0;
  int crashes = 0;            // workers that died while running it
  std::set<uint64_t> leases;  // live leases on this task
  // Agreeing results of distinct nodes it needs: 1, or 2 when verified.
  int quorum = 1;
  std::vector<Vote> votes;  // results so far, none merged; not kept on disk
  bool disputed = false;    // two results differed
  bool queued = false;      // in its job's `requeued`
  absl::Time first_vote = absl::InfiniteFuture();  // when its first came
};

struct Scheduler::Job {
  Job(uint64_t lo, uint64_t hi) : lo(lo), hi(hi), next(lo), acc(lo, hi) {}

  bool Active() const {
    return state == proto::QUEUED || state == proto::RUNNING;
  }
  bool HasWork() const { return Active() && (!requeued.empty() || !cut_all); }
  std::tuple<int64_t, uint64_t, uint64_t> QueueKey() const {
    return {-static_cast<int64_t>(priority), seq, id};
  }

  uint64_t id = 0;
  proto::Kind kind = proto::KIND_UNSPECIFIED;
  // Since when no node taking work can hold its next task; not kept on
  // disk (a restart gives the nodes time to come back).
  absl::Time unplaceable_since = absl::InfiniteFuture();
  const uint64_t lo, hi;
  int32_t priority = 0;
  uint64_t seq = 0;
  proto::JobState state = proto::QUEUED;
  absl::Time submitted, finished;
  uint64_t next;         // first number not cut into a task yet
  bool cut_all = false;  // the whole range has been cut into tasks
  // Open tasks that want another lease: lost ones first, then second
  // copies for verification (Task::queued).
  std::deque<uint64_t> requeued;
  std::map<uint64_t, Task> open;  // tasks cut and not merged, by id
  RangeAccumulator acc;
  uint64_t tasks_done = 0;
  uint64_t duplicates = 0;
  uint64_t version = 1;
  proto::JobResult result;
  std::string error;  // why it FAILED
  // Ended before its end (CANCELLED, FAILED): the answer for [lo,
  // partial_hi], when that part is not empty, and the progress it had.
  std::optional<proto::JobResult> partial;
  uint64_t partial_hi = 0;
  double final_progress = 0;
  absl::Time started = absl::InfinitePast();  // first task handed out
  double task_seconds = 0, cpu_seconds = 0;   // of its merged tasks
  proto::Verify verify = proto::VERIFY_SAMPLE;
  proto::Verification verification;  // counters, and the cross-check
  bool cross_checked() const {
    return verification.cross_check() != proto::CROSS_CHECK_UNSPECIFIED;
  }
  // Every task merged while it runs, so that a suspect's unconfirmed
  // results can be taken out again (Reopen); cleared when it ends.
  struct Merged {
    uint64_t lo = 0, hi = 0;
    proto::Partial partial;
    std::string node;  // whose result it is (the first of them, if confirmed)
    bool confirmed = false;
  };
  std::map<uint64_t, Merged> merged;
  bool escalated = false;  // primecount disagreed: every task verified
};

struct Scheduler::Node {
  uint64_t session = 0;
  std::string name;  // also what its Outbounds are addressed to
  uint64_t incarnation = 0;
  std::string key;  // CURVE public key it authenticated with, if any
  uint32_t cores = 0, threads = 0;
  uint64_t memory_budget = 0;  // bytes, from its Hello; 0: unknown
  uint32_t credits = 0;
  std::set<uint64_t> leases;
  absl::Time last_heard;
  uint64_t tasks_done = 0;
  uint64_t numbers_done = 0;     // in those tasks
  double last_rate = 0;          // numbers per second, of the kind it did last
  RateEstimate speed;            // SieveWork per second, any kind and height
  bool sieving = false;          // its last heartbeat said its sieve was busy
  proto::Health health;          // from its last heartbeat
  uint64_t tasks_throttled = 0;  // results computed under-voltage or throttled
  absl::Time last_busy;          // last heard holding a task or sieving
  std::map<proto::Kind, RateEstimate> rate;   // numbers per second, by kind
  std::map<proto::Kind, uint64_t> last_task;  // numbers, by kind
  // Results since it joined or was trusted again: its first few are
  // verified.
  uint64_t results = 0;
  uint64_t tasks_confirmed = 0, tasks_outvoted = 0;
};

struct Scheduler::LeaseInfo {
  uint64_t id = 0;
  uint64_t job = 0;
  uint64_t task = 0;
  uint64_t session = 0;
  absl::Time start;
};

namespace scheduler_internal {

inline bool ValidKind(proto::Kind kind) { return FindKind(kind) != nullptr; }

// Unix milliseconds; 0 for the unset time.
inline uint64_t UnixMillis(absl::Time t) {
  return t == absl::Time() ? 0 : static_cast<uint64_t>(absl::ToUnixMillis(t));
}

}  // namespace scheduler_internal
}  // namespace quark

#endif  // QUARK_CONTROLLER_SCHEDULER_INTERNAL_H_
