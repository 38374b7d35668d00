// The whole-job cross-check of a count (docs/security.md): pi(hi) -
// pi(lo - 1) by primecount, whose combinatorial algorithm (Deleglise-Rivat,
// Gourdon) shares nothing with the sieve the workers run, on a thread of
// its own so that the controller's loop never waits for it.
//
//   CrossChecker checker;
//   checker.Add({job, lo, hi});          // from Scheduler::TakeCrossChecks
//   for (auto& a : checker.Take()) ...;  // to Scheduler::OnCrossCheck
//
// One thread, one count at a time, in the order asked; primecount itself
// runs on `threads` threads (1 by default: the controller's loop keeps
// the other cores). pi(1e14) takes about 0.4 s of one x86 core (longer on a
// Pi: not measured). The destructor waits for the count in progress.
//
// Thread-safe. Its thread starts in the constructor and takes the signal
// mask of the thread that builds it: build it after ShutdownSignals::Install
// (common/signals.h), or SIGTERM may be delivered to it and kill the
// process.
#ifndef QUARK_CONTROLLER_CROSS_CHECK_H_
#define QUARK_CONTROLLER_CROSS_CHECK_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "controller/scheduler.h"

namespace quark {

class CrossChecker {
 public:
  explicit CrossChecker(int threads = 1);
  ~CrossChecker();
  CrossChecker(const CrossChecker&) = delete;
  CrossChecker& operator=(const CrossChecker&) = delete;

  void Add(const CrossCheckRequest& request);

  struct Answer {
    uint64_t job = 0;
    // None when primecount could not count (it throws beyond its limits,
    // far above cross_check_max, or out of memory): logged, and the job
    // goes without the check.
    std::optional<uint64_t> count;
  };
  // The answers ready since the last call.
  std::vector<Answer> Take();

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<CrossCheckRequest> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<Answer> answers_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// pi(hi) - pi(lo - 1) by primecount, on its global number of threads;
// hi < 2^63. Throws what primecount throws.
uint64_t PrimecountCount(uint64_t lo, uint64_t hi);

}  // namespace quark

#endif  // QUARK_CONTROLLER_CROSS_CHECK_H_
