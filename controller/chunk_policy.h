// How big a task to cut from the front of a job: a pure function.
//
// A primesieve call pays ~0.5 x sqrt(hi) numbers' time to build its
// sieving primes, so a task below ~1000 x sqrt(hi) numbers, hi the task's
// own last number, wastes the cluster's time on set-up. Above that, tasks
// are sized from the node's measured rate to take about `task_seconds`,
// which keeps a lost node's loss small and lets nodes join mid-job. Near
// the end of a job the tasks shrink, below that minimum if need be (down to
// 10 x sqrt(hi)), so that the last ones finish together instead of one node
// sieving a big tail while the others idle.
#ifndef QUARK_CONTROLLER_CHUNK_POLICY_H_
#define QUARK_CONTROLLER_CHUNK_POLICY_H_

#include <cstdint>

namespace quark {

struct ChunkOptions {
  // Target wall time of one task on the node that gets it.
  double task_seconds = 2.0;
  // No task is smaller than this many numbers...
  uint64_t min_numbers = 10'000'000;
  // ...nor smaller than sqrt_factor x sqrt(hi).
  double sqrt_factor = 1000.0;
  // Near the end no task is larger than remaining / (tail_split x nodes)...
  double tail_split = 2.0;
  // ...and, with more than one node, that cap may cut below the minimum,
  // down to tail_sqrt_factor x sqrt(hi) (and min_numbers). A set-up of
  // ~0.5 x sqrt(hi) is then at most 5% of a one-thread task, which costs
  // less than nodes sitting idle while one sieves a minimum task: at 1e18
  // that is 1e12 numbers, five minutes of a 2-core x86 node and twenty of a
  // Pi 4 (docs/benchmarks.md, "The tail of a job at height").
  double tail_sqrt_factor = 10.0;
  // A node's task grows at most this factor over its previous one (slow
  // start): a rate measured on small tasks, or while the node's cores were
  // shared differently, is a poor guide to a task 100 times larger.
  double max_growth = 4.0;
};

struct ChunkRequest {
  uint64_t next = 0;  // first number not yet cut into a task
  uint64_t hi = 0;    // last number of the job (inclusive), next <= hi
  double rate = 0.0;  // the node's numbers per second; 0 when unknown
  int nodes = 1;      // nodes that can take work now, at least 1
  uint64_t last = 0;  // the node's previous task size; 0 when none
};

// The smallest task worth cutting whose last number is `hi`.
uint64_t MinTaskNumbers(const ChunkOptions& options, uint64_t hi);

// The smallest task worth cutting from `next` on: its own top sets its
// set-up cost, not the job's (a job from 0 to 2^64 starts with tasks of
// 1e7 numbers, not 4e12). Solves m = max(min_numbers, sqrt_factor x
// sqrt(next + m - 1)); at least 1.
uint64_t MinTaskNumbersFrom(const ChunkOptions& options, uint64_t next);

// The smallest task the tail may cut from `next` on (tail_sqrt_factor).
uint64_t TailMinTaskNumbersFrom(const ChunkOptions& options, uint64_t next);
// Numbers to put in the next task: between 1 and hi - next + 1 (which is
// capped at 2^64 - 1 for the range [0, 2^64 - 1]). A remainder smaller
// than the tail's minimum is folded into this task rather than left behind.
uint64_t ChooseTaskNumbers(const ChunkOptions& options,
                           const ChunkRequest& request);

}  // namespace quark

#endif  // QUARK_CONTROLLER_CHUNK_POLICY_H_
