// Runs one assignment on the executor's thread: plans it within the
// node's memory budget (common/sieve_cost.h, worker/memory_budget.h), on
// as many threads as fit, one at the least, and measures how fast one
// thread sieves, so that the kernel's stop checks come about a second
// apart.
//
// Thread safety: call from one thread at a time (the executor's).
#ifndef QUARK_WORKER_TASK_RUNNER_H_
#define QUARK_WORKER_TASK_RUNNER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/rate.h"
#include "proto/quark.pb.h"
#include "worker/kernels.h"
#include "worker/memory_budget.h"

namespace quark {

struct TaskRunnerOptions {
  std::string node;                      // for the log
  int threads = 1;                       // most threads a task runs on
  std::optional<uint64_t> memory_limit;  // --memory_limit
  // Where the memory readings come from (tests point them at fake trees).
  std::string proc_root = "/proc";
  std::string cgroup_root = "/sys/fs/cgroup";
};

class TaskRunner {
 public:
  explicit TaskRunner(TaskRunnerOptions options);

  // The budget now: read afresh for every task, since other programs on
  // the node come and go.
  MemoryBudget Budget() const;

  // Computes the task's partial. ResourceExhausted, naming both figures,
  // when even one thread in the narrowest slices would not fit the budget
  // (the controller does not send such a task to a node whose Hello said
  // so; the budget may have shrunk since).
  absl::StatusOr<proto::Partial> Run(const proto::Assign& task,
                                     const SieveControl& control);

 private:
  const TaskRunnerOptions options_;
  RateEstimate per_thread_rate_;  // numbers per second per thread
};

}  // namespace quark

#endif  // QUARK_WORKER_TASK_RUNNER_H_
