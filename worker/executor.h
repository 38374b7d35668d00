// Runs sieving tasks one at a time on a thread of its own, so that the I/O
// thread stays free for heartbeats. A task uses all the threads its kernel
// is given.
//
// Thread safety: Run(), TakeFinished() and Busy() may be called from any
// thread (the I/O thread in practice). `notify` is called on the executor
// thread after each finished task, to wake the I/O loop.
#ifndef QUARK_WORKER_EXECUTOR_H_
#define QUARK_WORKER_EXECUTOR_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/quark.pb.h"
#include "worker/kernels.h"

namespace quark {

struct FinishedTask {
  uint64_t lease = 0;
  absl::StatusOr<proto::Partial> partial;
  absl::Duration compute;  // wall time of the kernel
};

class Executor {
 public:
  // Computes a task, looking at control.stop between slices (kernels.h).
  using Kernel = std::function<absl::StatusOr<proto::Partial>(
      const proto::Assign&, const SieveControl&)>;

  // Starts the thread. A kernel must not throw. The thread, and every
  // thread the kernel starts from it (primesieve's included: Linux threads
  // inherit their creator's nice value), runs at niceness `nice`, so that
  // the I/O thread's heartbeats are never starved by the sieve.
  Executor(Kernel kernel, std::function<void()> notify, int nice = 0);
  // Stops the running task, if any (within about a second), then the
  // thread. Tasks not started yet are dropped.
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues a task; tasks run in the order given.
  void Run(proto::Assign task);

  // The tasks finished since the last call, in order.
  std::vector<FinishedTask> TakeFinished();

  // A task is queued or running.
  bool Busy();

  // Stops the task of `lease` if it is running (its kernel then returns
  // Cancelled within about a second) or drops it if it is queued. Other
  // leases are left alone.
  void Stop(uint64_t lease);

 private:
  void Loop();
  bool HasWorkOrStop() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || !todo_.empty();
  }

  const Kernel kernel_;
  const std::function<void()> notify_;
  const int nice_;
  absl::Mutex mu_;
  std::deque<proto::Assign> todo_ ABSL_GUARDED_BY(mu_);
  std::vector<FinishedTask> finished_ ABSL_GUARDED_BY(mu_);
  uint64_t running_ ABSL_GUARDED_BY(mu_) = 0;  // its lease; 0: none
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // For the running task's kernel, which reads it without the lock.
  std::atomic<bool> stop_task_{false};
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace quark

#endif  // QUARK_WORKER_EXECUTOR_H_
